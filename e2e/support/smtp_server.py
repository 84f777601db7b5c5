#!/usr/bin/env python3
"""A real SMTP server for Callboard's tests (aiosmtpd), with fault modes chosen by recipient.

Listens on --port (STARTTLS required, AUTH PLAIN/LOGIN required) and --tls-port (implicit TLS,
AUTH required). Every accepted message is written to --dir as <n>.eml. Recipients whose local
part starts with:
  tempfail  -> 451 at RCPT (temporary)
  permfail  -> 550 at RCPT (permanent)
  dropdata  -> the first time a Message-ID is seen, the connection is dropped after the message
               body arrived and before any reply; later copies are accepted
  hang      -> no reply to the end of DATA, ever
  slow      -> the reply to the end of DATA comes 3 s late (a stalled send, longer than a test lease);
               the message is accepted
  hangonce  -> the first time a Message-ID is seen, no reply to the end of DATA (a marker file
               hanging-<n> appears in --dir so a test knows the message was handed over);
               later copies are accepted (for kill-in-the-middle tests)
"""
import argparse, asyncio, os, ssl, itertools, uuid
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

counter = itertools.count(1)
seen_dropped = set()
seen_hung = set()


class Handler:
    def __init__(self, directory):
        self.directory = directory

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("tempfail"):
            return "451 4.3.0 Try again later"
        if local.startswith("permfail"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
        message_id = next((l.split(":", 1)[1].strip() for l in text.splitlines() if l.lower().startswith("message-id:")), "")
        rcpt = envelope.rcpt_tos[0].split("@")[0] if envelope.rcpt_tos else ""
        if rcpt.startswith("hangonce") and message_id not in seen_hung:
            seen_hung.add(message_id)
            with open(os.path.join(self.directory, f"hanging-{uuid.uuid4().hex}"), "w") as f:
                f.write(message_id)
            await asyncio.sleep(3600)
            return "451 too late"
        if rcpt.startswith("hang") and not rcpt.startswith("hangonce"):
            await asyncio.sleep(3600)
        if rcpt.startswith("slow"):
            await asyncio.sleep(3)
        if rcpt.startswith("dropdata") and message_id not in seen_dropped:
            seen_dropped.add(message_id)
            server.transport.abort()
            return "451 dropped"
        n = next(counter)
        path = os.path.join(self.directory, f"{n:06d}.eml")
        with open(path + ".tmp", "w") as f:
            f.write(f"X-Envelope-From: {envelope.mail_from}\r\nX-Envelope-To: {','.join(envelope.rcpt_tos)}\r\n")
            f.write(f"X-Auth-User: {getattr(session, 'auth_data', None) and session.auth_data.login.decode()}\r\n")
            f.write(text)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 Accepted"


class Sink:
    """Accepts everything and keeps only a count (written to <dir>/sink-count on each message)."""
    def __init__(self, directory):
        self.path = os.path.join(directory, "sink-count")
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        if self.count % 500 == 0:
            with open(self.path, "w") as f:
                f.write(str(self.count))
        return "250 OK"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)
    return check


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls-port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--user", default="callboard")
    p.add_argument("--password", default="s3cret-test-password")
    p.add_argument("--sink-port", type=int, help="also accept plain, unauthenticated mail here and only count it (benchmarks)")
    a = p.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)
    auth = authenticator(a.user, a.password)
    starttls = Controller(Handler(a.dir), hostname="127.0.0.1", port=a.port, server_hostname="localhost", tls_context=ctx,
                          require_starttls=True, authenticator=auth, auth_required=True)
    implicit = Controller(Handler(a.dir), hostname="127.0.0.1", port=a.tls_port, server_hostname="localhost", ssl_context=ctx,
                          authenticator=auth, auth_required=True, auth_require_tls=False)
    starttls.start()
    implicit.start()
    if a.sink_port:
        Controller(Sink(a.dir), hostname="127.0.0.1", port=a.sink_port, server_hostname="localhost").start()
    print(f"smtp ready on {a.port} (STARTTLS) and {a.tls_port} (TLS)", flush=True)
    try:
        asyncio.get_event_loop().run_forever()
    finally:
        starttls.stop()
        implicit.stop()


if __name__ == "__main__":
    main()
