--
-- PostgreSQL database dump
--


-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events (
    id integer NOT NULL,
    thread_id character varying(16) NOT NULL,
    at timestamp without time zone NOT NULL,
    kind character varying(32) NOT NULL,
    message_id character varying(998) NOT NULL,
    detail text NOT NULL
);


--
-- Name: events_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.events_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: events_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.events_id_seq OWNED BY public.events.id;


--
-- Name: folder_cursors; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.folder_cursors (
    folder character varying(512) NOT NULL,
    uidvalidity integer NOT NULL,
    last_uid integer NOT NULL
);


--
-- Name: followupd_meta; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.followupd_meta (
    key character varying(64) NOT NULL,
    value text NOT NULL
);


--
-- Name: reminders; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.reminders (
    id character varying(24) NOT NULL,
    thread_id character varying(16) NOT NULL,
    number integer NOT NULL,
    state character varying(16) NOT NULL,
    template character varying(255) NOT NULL,
    message_id character varying(998) NOT NULL,
    subject text NOT NULL,
    touch_id character varying(24),
    created timestamp without time zone NOT NULL,
    delivered_at timestamp without time zone,
    uid integer,
    outcome text NOT NULL,
    raw bytea
);


--
-- Name: requests; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.requests (
    id integer NOT NULL,
    created timestamp without time zone NOT NULL,
    kind character varying(16) NOT NULL,
    target character varying(64) NOT NULL,
    argument text NOT NULL,
    flag boolean NOT NULL,
    done_at timestamp without time zone,
    ok boolean NOT NULL,
    result text NOT NULL
);


--
-- Name: requests_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.requests_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: requests_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.requests_id_seq OWNED BY public.requests.id;


--
-- Name: thread_message_ids; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.thread_message_ids (
    message_id character varying(998) NOT NULL,
    thread_id character varying(16) NOT NULL,
    role character varying(16) NOT NULL
);


--
-- Name: threads; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.threads (
    id character varying(16) NOT NULL,
    message_id character varying(998) NOT NULL,
    subject text NOT NULL,
    from_email character varying(320) NOT NULL,
    from_name text NOT NULL,
    "to" json NOT NULL,
    cc json NOT NULL,
    bcc json NOT NULL,
    "references" json NOT NULL,
    sent_at timestamp without time zone NOT NULL,
    first_seen_at timestamp without time zone NOT NULL,
    state character varying(16) NOT NULL,
    kind character varying(16) DEFAULT 'nudge'::character varying NOT NULL,
    state_reason text NOT NULL,
    state_changed_at timestamp without time zone,
    tracking_address character varying(320) NOT NULL,
    tracking_suffix character varying(64),
    promised date,
    problems json NOT NULL,
    touches integer NOT NULL,
    steps integer NOT NULL,
    last_touch_at timestamp without time zone,
    next_due timestamp without time zone,
    note text NOT NULL,
    snoozed_until timestamp without time zone,
    failed_recipients json NOT NULL,
    conversation_keys json NOT NULL,
    expect_all boolean NOT NULL,
    answered_by json NOT NULL,
    replied_at timestamp without time zone,
    replied_by character varying(320) NOT NULL,
    reply_probable boolean NOT NULL,
    source json NOT NULL
);


--
-- Name: touches; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.touches (
    id character varying(24) NOT NULL,
    thread_id character varying(16) NOT NULL,
    number integer NOT NULL,
    state character varying(16) NOT NULL,
    template character varying(255) NOT NULL,
    message_id character varying(998) NOT NULL,
    subject text NOT NULL,
    "to" json NOT NULL,
    due_at timestamp without time zone,
    created timestamp without time zone NOT NULL,
    drafted_at timestamp without time zone,
    drafts_uid integer,
    drafts_uidvalidity integer,
    done_at timestamp without time zone,
    missing_since timestamp without time zone,
    cleanup_pending boolean NOT NULL,
    outcome text NOT NULL,
    reason text NOT NULL,
    raw bytea,
    approved_at timestamp without time zone,
    send_now boolean NOT NULL,
    draft_changed_at timestamp without time zone,
    send_attempts integer NOT NULL,
    retry_after timestamp without time zone,
    sending_started_at timestamp without time zone,
    data_started_at timestamp without time zone,
    sent_raw bytea,
    sent_by_followupd boolean NOT NULL,
    sent_copy_pending boolean NOT NULL
);


--
-- Name: events id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events ALTER COLUMN id SET DEFAULT nextval('public.events_id_seq'::regclass);


--
-- Name: requests id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.requests ALTER COLUMN id SET DEFAULT nextval('public.requests_id_seq'::regclass);


--
-- Data for Name: events; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.events VALUES (1, '5dc247f9b46f', '2026-11-10 10:00:00', 'tracked', '<179559913752.32478.15240159357950569207@example.test>', 'tracking started from Sent:1');
INSERT INTO public.events VALUES (2, 'f6213c548548', '2026-11-10 10:00:00', 'tracked', '<179559913754.32478.15530643225621845950@example.test>', 'tracking started from Sent:2');
INSERT INTO public.events VALUES (3, '105e372c703b', '2026-11-10 10:00:00', 'tracked', '<179559913755.32478.18365918547013142433@example.test>', 'tracking started from Sent:3 (your promise, suffix ''me-3d'': reminder on 2026-11-07)');
INSERT INTO public.events VALUES (4, '105e372c703b', '2026-11-10 10:00:00', 'draft_planned', '<followupd.105e372c703b.1@example.com>', 'update for your promise from commitment/update/thanks-for-waiting.txt');
INSERT INTO public.events VALUES (5, '105e372c703b', '2026-11-10 10:00:00', 'reminder_planned', '<followupd.105e372c703b.r1@example.com>', 'reminder 1 of 4 about your promise, from commitment/reminder/where-things-stand.txt');
INSERT INTO public.events VALUES (6, '5dc247f9b46f', '2026-11-10 10:00:00', 'draft_planned', '<followupd.5dc247f9b46f.1@example.com>', 'touch 1 of 4 from first/one-line-is-plenty.txt');
INSERT INTO public.events VALUES (7, 'f6213c548548', '2026-11-10 10:00:00', 'draft_planned', '<followupd.f6213c548548.1@example.com>', 'touch 1 of 4 from first/no-rush.txt');
INSERT INTO public.events VALUES (8, '105e372c703b', '2026-11-10 10:00:00', 'draft_queued', '<followupd.105e372c703b.1@example.com>', 'draft in Drafts (uid 1)');
INSERT INTO public.events VALUES (9, '5dc247f9b46f', '2026-11-10 10:00:00', 'draft_queued', '<followupd.5dc247f9b46f.1@example.com>', 'draft in Drafts (uid 2)');
INSERT INTO public.events VALUES (10, 'f6213c548548', '2026-11-10 10:00:00', 'draft_queued', '<followupd.f6213c548548.1@example.com>', 'draft in Drafts (uid 3)');
INSERT INTO public.events VALUES (11, '105e372c703b', '2026-11-10 10:00:00', 'reminder_delivered', '<followupd.105e372c703b.r1@example.com>', 'reminder in INBOX (uid 1)');
INSERT INTO public.events VALUES (12, 'f6213c548548', '2026-11-25 09:32:19', 'reply', '<179559913903.32478.14811701542848722553@example.test>', 'In-Reply-To <179559913754.32478.15530643225621845950@example.test> (INBOX:2, from carol@example.org)');
INSERT INTO public.events VALUES (13, '5dc247f9b46f', '2026-11-10 12:00:00', 'note', 'request-1', 'note: ask about the roof too');


--
-- Data for Name: folder_cursors; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.folder_cursors VALUES ('Sent', 1795599137, 3);
INSERT INTO public.folder_cursors VALUES ('Archive', 1795599139, 0);
INSERT INTO public.folder_cursors VALUES ('INBOX', 1795599138, 2);


--
-- Data for Name: followupd_meta; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.followupd_meta VALUES ('schema_version', '1');
INSERT INTO public.followupd_meta VALUES ('cadence_fingerprint', '688a295a70541b2c');


--
-- Data for Name: reminders; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.reminders VALUES ('105e372c703b.r001', '105e372c703b', 1, 'delivered', 'commitment/reminder/where-things-stand.txt', '<followupd.105e372c703b.r1@example.com>', 'Reminder: your promise to dave@example.org about “The report”', '105e372c703b-001', '2026-11-10 10:00:00', '2026-11-10 10:00:00', 1, '', '\x46726f6d3a20666f6c6c6f77757064203c72656c65617365303130406578616d706c652e636f6d3e0d0a546f3a20416c6578204578616d706c65203c72656c65617365303130406578616d706c652e636f6d3e0d0a5375626a6563743a2052656d696e6465723a20796f75722070726f6d69736520746f2064617665406578616d706c652e6f72672061626f7574203d3f7574662d383f623f346f43633f3d0d0a203d3f7574662d383f713f5468655f7265706f72743d45323d38303d39443f3d0d0a446174653a205475652c203130204e6f7620323032362031303a30303a3030202b303030300d0a4d6573736167652d49443a203c666f6c6c6f777570642e3130356533373263373033622e7231406578616d706c652e636f6d3e0d0a582d466f6c6c6f777570642d49643a203130356533373263373033622e723030310d0a4175746f2d5375626d69747465643a206175746f2d67656e6572617465640d0a4d494d452d56657273696f6e3a20312e300d0a436f6e74656e742d547970653a20746578742f706c61696e3b20636861727365743d227574662d38220d0a436f6e74656e742d5472616e736665722d456e636f64696e673a2071756f7465642d7072696e7461626c650d0a0d0a596f7520706c616e6e656420746f20676574206261636b20746f2064617665406578616d706c652e6f72672061626f7574203d45323d38303d3943546865207265706f72743d45323d38303d0d0a3d3944206c6173742053617475726461793b20796f75207361696420736f206c617374205765646e65736461792e0d0a0d0a4e6f206e657773207965743f2041206c696e65206f6e207768657265207468696e6773207374616e642c20616e64207768656e20796f752065787065637420746f206b6e6f77206d6f72652c203d0d0a697320776f7274682073656e64696e6720616e797761792e0d0a0d0a596f75722064726166742075706461746520776169747320696e204472616674733b2073656e64696e672069742c206f7220616e79207265706c79206f6620796f75727320696e2074686520743d0d0a68726561642c20736574746c657320746869732e0d0a0d0a666f6c6c6f777570640d0a');


--
-- Data for Name: requests; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.requests VALUES (1, '2026-11-10 12:00:00', 'note', '5dc247f9b46f', 'ask about the roof too', false, '2026-11-10 12:00:00', true, 'note saved; templates can use it as {{ note }}');


--
-- Data for Name: thread_message_ids; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.thread_message_ids VALUES ('<179559913752.32478.15240159357950569207@example.test>', '5dc247f9b46f', 'tracked');
INSERT INTO public.thread_message_ids VALUES ('<179559913754.32478.15530643225621845950@example.test>', 'f6213c548548', 'tracked');
INSERT INTO public.thread_message_ids VALUES ('<179559913755.32478.18365918547013142433@example.test>', '105e372c703b', 'tracked');
INSERT INTO public.thread_message_ids VALUES ('<179559913903.32478.14811701542848722553@example.test>', 'f6213c548548', 'reply');


--
-- Data for Name: threads; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.threads VALUES ('105e372c703b', '<179559913755.32478.18365918547013142433@example.test>', 'The report', 'release010@example.com', 'Alex Example', '[{"email": "dave@example.org", "name": ""}]', '[]', '[]', '[]', '2026-11-04 12:00:00', '2026-11-10 10:00:00', 'waiting', 'commitment', '', '2026-11-10 10:00:00', 'release010+followup-me-3d@example.com', 'me-3d', '2026-11-07', '[]', 0, 1, '2026-11-10 10:00:00', '2026-11-17 10:00:00', '', NULL, '[]', '[]', false, '[]', NULL, '', false, '["Sent:3"]');
INSERT INTO public.threads VALUES ('f6213c548548', '<179559913754.32478.15530643225621845950@example.test>', 'Lunch on Friday?', 'release010@example.com', 'Alex Example', '[{"email": "carol@example.org", "name": ""}]', '[]', '[]', '[]', '2026-11-04 11:00:00', '2026-11-10 10:00:00', 'replied', 'nudge', 'In-Reply-To <179559913754.32478.15530643225621845950@example.test>', '2026-11-10 11:00:00', 'release010+followup@example.com', NULL, NULL, '[]', 0, 0, NULL, NULL, '', NULL, '[]', '[]', false, '[]', '2026-11-25 09:32:19', 'carol@example.org', false, '["Sent:2"]');
INSERT INTO public.threads VALUES ('5dc247f9b46f', '<179559913752.32478.15240159357950569207@example.test>', 'Quote for the garden shed', 'release010@example.com', 'Alex Example', '[{"email": "bob@example.org", "name": "Bob Builder"}]', '[]', '[]', '[]', '2026-11-04 10:00:00', '2026-11-10 10:00:00', 'waiting', 'nudge', '', '2026-11-10 10:00:00', 'release010+followup@example.com', NULL, NULL, '[]', 0, 0, NULL, '2026-11-09 10:00:00', 'ask about the roof too', NULL, '[]', '[]', false, '[]', NULL, '', false, '["Sent:1"]');


--
-- Data for Name: touches; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.touches VALUES ('105e372c703b-001', '105e372c703b', 1, 'queued', 'commitment/update/thanks-for-waiting.txt', '<followupd.105e372c703b.1@example.com>', 'Re: The report', '[{"email": "dave@example.org", "name": ""}]', '2026-11-07 00:00:00', '2026-11-10 10:00:00', '2026-11-10 10:00:00', 1, NULL, NULL, NULL, false, '', 'you promised an update on 04 Nov', '\x46726f6d3a20416c6578204578616d706c65203c72656c65617365303130406578616d706c652e636f6d3e0d0a546f3a2064617665406578616d706c652e6f72670d0a5375626a6563743a2052653a20546865207265706f72740d0a446174653a205475652c203130204e6f7620323032362031303a30303a3030202b303030300d0a4d6573736167652d49443a203c666f6c6c6f777570642e3130356533373263373033622e31406578616d706c652e636f6d3e0d0a496e2d5265706c792d546f3a203c3137393535393931333735352e33323437382e3138333635393138353437303133313432343333406578616d706c652e746573743e0d0a5265666572656e6365733a203c3137393535393931333735352e33323437382e3138333635393138353437303133313432343333406578616d706c652e746573743e0d0a582d466f6c6c6f777570642d49643a203130356533373263373033622d3030310d0a4d494d452d56657273696f6e3a20312e300d0a436f6e74656e742d547970653a20746578742f706c61696e3b20636861727365743d227574662d38220d0a436f6e74656e742d5472616e736665722d456e636f64696e673a2071756f7465642d7072696e7461626c650d0a0d0a48656c6c6f2c0d0a0d0a5468616e6b20796f7520666f722062656172696e672077697468206d65206f6e2022546865207265706f7274222e204920746f6c6420796f75206c617374205765646e657364617920746861743d0d0a2049276420676574206261636b20746f20796f752c20616e642049206469646e27742077616e7420746f206c6561766520796f7520776f6e646572696e672e0d0a0d0a49276d20776f726b696e67206f6e20697420616e642077696c6c207368617265207468652066756c6c20616e7377657220617320736f6f6e20617320697427732072656164792e2049662074683d0d0a652074696d696e67206d617474657273206f6e20796f757220736964652c206c6574206d65206b6e6f7720616e642049276c6c20706c616e2061726f756e642069742e0d0a0d0a5761726d20726567617264732c0d0a416c65780d0a', NULL, false, NULL, 0, NULL, NULL, NULL, NULL, false, false);
INSERT INTO public.touches VALUES ('5dc247f9b46f-001', '5dc247f9b46f', 1, 'queued', 'first/one-line-is-plenty.txt', '<followupd.5dc247f9b46f.1@example.com>', 'Re: Quote for the garden shed', '[{"email": "bob@example.org", "name": "Bob Builder"}]', '2026-11-09 10:00:00', '2026-11-10 10:00:00', '2026-11-10 10:00:00', 2, NULL, NULL, NULL, false, '', 'no reply since 04 Nov; touch 1 of 4', '\x46726f6d3a20416c6578204578616d706c65203c72656c65617365303130406578616d706c652e636f6d3e0d0a546f3a20426f62204275696c646572203c626f62406578616d706c652e6f72673e0d0a5375626a6563743a2052653a2051756f746520666f72207468652067617264656e20736865640d0a446174653a205475652c203130204e6f7620323032362031303a30303a3030202b303030300d0a4d6573736167652d49443a203c666f6c6c6f777570642e3564633234376639623436662e31406578616d706c652e636f6d3e0d0a496e2d5265706c792d546f3a203c3137393535393931333735322e33323437382e3135323430313539333537393530353639323037406578616d706c652e746573743e0d0a5265666572656e6365733a203c3137393535393931333735322e33323437382e3135323430313539333537393530353639323037406578616d706c652e746573743e0d0a582d466f6c6c6f777570642d49643a203564633234376639623436662d3030310d0a4d494d452d56657273696f6e3a20312e300d0a436f6e74656e742d547970653a20746578742f706c61696e3b20636861727365743d227574662d38220d0a436f6e74656e742d5472616e736665722d456e636f64696e673a2071756f7465642d7072696e7461626c650d0a0d0a48656c6c6f20426f622c0d0a0d0a4120717569636b20666f6c6c6f772d7570206f6e206d7920656d61696c2066726f6d2034204e6f76656d62657220282251756f746520666f72207468652067617264656e207368656422292e203d0d0a41206f6e652d6c696e6520616e7377657220697320706c656e74793b2074686572652773206e6f206e65656420666f7220616e797468696e6720706f6c69736865642e0d0a0d0a5468616e6b20796f7520666f722074616b696e672061206c6f6f6b2e0d0a0d0a416c65780d0a', NULL, false, NULL, 0, NULL, NULL, NULL, NULL, false, false);
INSERT INTO public.touches VALUES ('f6213c548548-001', 'f6213c548548', 1, 'withdrawn', 'first/no-rush.txt', '<followupd.f6213c548548.1@example.com>', 'Re: Lunch on Friday?', '[{"email": "carol@example.org", "name": ""}]', '2026-11-09 11:00:00', '2026-11-10 10:00:00', '2026-11-10 10:00:00', 3, NULL, '2026-11-10 11:00:00', NULL, false, 'In-Reply-To <179559913754.32478.15530643225621845950@example.test>', 'no reply since 04 Nov; touch 1 of 4', '\x46726f6d3a20416c6578204578616d706c65203c72656c65617365303130406578616d706c652e636f6d3e0d0a546f3a206361726f6c406578616d706c652e6f72670d0a5375626a6563743a2052653a204c756e6368206f6e204672696461793f0d0a446174653a205475652c203130204e6f7620323032362031303a30303a3030202b303030300d0a4d6573736167652d49443a203c666f6c6c6f777570642e6636323133633534383534382e31406578616d706c652e636f6d3e0d0a496e2d5265706c792d546f3a203c3137393535393931333735342e33323437382e3135353330363433323235363231383435393530406578616d706c652e746573743e0d0a5265666572656e6365733a203c3137393535393931333735342e33323437382e3135353330363433323235363231383435393530406578616d706c652e746573743e0d0a582d466f6c6c6f777570642d49643a206636323133633534383534382d3030310d0a4d494d452d56657273696f6e3a20312e300d0a436f6e74656e742d547970653a20746578742f706c61696e3b20636861727365743d227574662d38220d0a436f6e74656e742d5472616e736665722d456e636f64696e673a2071756f7465642d7072696e7461626c650d0a0d0a48692c0d0a0d0a4e6f207275736820696e74656e6465642e2049206b6e6f7720686f7720717569636b6c792061206d6573736167652063616e20736c697020646f776e20746865206c6973742c20736f204920773d0d0a616e74656420746f2070757420224c756e6368206f6e204672696461793f2220696e2066726f6e74206f6620796f75206f6e6365206d6f72652e0d0a0d0a436f756c6420796f75206c6574206d65206b6e6f77207768657265207468696e6773207374616e64207768656e20697420737569747320796f753f0d0a0d0a57697468207468616e6b732c0d0a416c65780d0a', NULL, false, NULL, 0, NULL, NULL, NULL, NULL, false, false);


--
-- Name: events_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.events_id_seq', 13, true);


--
-- Name: requests_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.requests_id_seq', 1, true);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (id);


--
-- Name: events events_thread_id_kind_message_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_thread_id_kind_message_id_key UNIQUE (thread_id, kind, message_id);


--
-- Name: folder_cursors folder_cursors_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.folder_cursors
    ADD CONSTRAINT folder_cursors_pkey PRIMARY KEY (folder);


--
-- Name: followupd_meta followupd_meta_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.followupd_meta
    ADD CONSTRAINT followupd_meta_pkey PRIMARY KEY (key);


--
-- Name: reminders reminders_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.reminders
    ADD CONSTRAINT reminders_pkey PRIMARY KEY (id);


--
-- Name: reminders reminders_thread_id_number_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.reminders
    ADD CONSTRAINT reminders_thread_id_number_key UNIQUE (thread_id, number);


--
-- Name: requests requests_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.requests
    ADD CONSTRAINT requests_pkey PRIMARY KEY (id);


--
-- Name: thread_message_ids thread_message_ids_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.thread_message_ids
    ADD CONSTRAINT thread_message_ids_pkey PRIMARY KEY (message_id);


--
-- Name: threads threads_message_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.threads
    ADD CONSTRAINT threads_message_id_key UNIQUE (message_id);


--
-- Name: threads threads_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.threads
    ADD CONSTRAINT threads_pkey PRIMARY KEY (id);


--
-- Name: touches touches_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.touches
    ADD CONSTRAINT touches_pkey PRIMARY KEY (id);


--
-- Name: touches touches_thread_id_number_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.touches
    ADD CONSTRAINT touches_thread_id_number_key UNIQUE (thread_id, number);


--
-- Name: ix_events_thread_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_events_thread_id ON public.events USING btree (thread_id);


--
-- Name: ix_reminders_state; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_reminders_state ON public.reminders USING btree (state);


--
-- Name: ix_reminders_thread_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_reminders_thread_id ON public.reminders USING btree (thread_id);


--
-- Name: ix_thread_message_ids_thread_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_thread_message_ids_thread_id ON public.thread_message_ids USING btree (thread_id);


--
-- Name: ix_threads_next_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_threads_next_due ON public.threads USING btree (next_due);


--
-- Name: ix_threads_state; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_threads_state ON public.threads USING btree (state);


--
-- Name: ix_touches_state; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_touches_state ON public.touches USING btree (state);


--
-- Name: ix_touches_thread_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_touches_thread_id ON public.touches USING btree (thread_id);


--
-- Name: events events_thread_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_thread_id_fkey FOREIGN KEY (thread_id) REFERENCES public.threads(id) ON DELETE CASCADE;


--
-- Name: reminders reminders_thread_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.reminders
    ADD CONSTRAINT reminders_thread_id_fkey FOREIGN KEY (thread_id) REFERENCES public.threads(id) ON DELETE CASCADE;


--
-- Name: thread_message_ids thread_message_ids_thread_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.thread_message_ids
    ADD CONSTRAINT thread_message_ids_thread_id_fkey FOREIGN KEY (thread_id) REFERENCES public.threads(id) ON DELETE CASCADE;


--
-- Name: touches touches_thread_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.touches
    ADD CONSTRAINT touches_thread_id_fkey FOREIGN KEY (thread_id) REFERENCES public.threads(id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--


