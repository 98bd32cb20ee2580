#!/usr/bin/python3
"""smtp_null.py PORT_FILE COUNT_FILE - an SMTP server (Debian's python3-aiosmtpd)
on 127.0.0.1 that accepts every message and keeps none: aiosmtpd's protocol
handling alone, without the parsing and the two files per message of
tests/e2e/py/smtp_sink.py. The port goes to PORT_FILE once it listens; on
SIGTERM it writes the number of messages taken to COUNT_FILE and exits.
"""
import asyncio
import logging
import os
import signal
import sys

from aiosmtpd.smtp import SMTP


class Handler:
    n = 0

    async def handle_DATA(self, server, session, envelope):
        Handler.n += 1
        return "250 2.0.0 OK"


def main(port_file, count_file):
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    h = Handler()

    async def serve():
        server = await loop.create_server(
            lambda: SMTP(h, hostname="null.test", ident="smtp_null", decode_data=False),
            host="127.0.0.1", port=0)
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % server.sockets[0].getsockname()[1])
        os.replace(tmp, port_file)
        await stop.wait()
        server.close()

    loop.run_until_complete(serve())
    with open(count_file, "w") as f:
        f.write("%d\n" % Handler.n)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
