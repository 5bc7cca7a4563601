"""Reading real-world mail: headers, classification, body text, delivery reports, out-of-office notices, reply
intent, provider thread ids and delivery traces. Pure: bytes in, plain data out; no network, no database."""
