import time, signal, threading, os
from conftest import API, database_url_for, psql, running_callboard
def test_probe(tmp_path):
    with running_callboard(tmp_path) as other:
        anon = API(other.host, other.port, None)
        psql(other.pg_url, f'ALTER DATABASE "{other.dbname}" WITH ALLOW_CONNECTIONS false')
        psql(other.pg_url, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{other.dbname}'")
        def bg():
            t=time.monotonic()
            try:
                r = anon.get("/health/ready", timeout=120); print("ready answered", r.status, time.monotonic()-t)
            except Exception as e: print("ready err", repr(e), time.monotonic()-t)
        th=threading.Thread(target=bg); th.start(); time.sleep(2)
        pid = other.pid
        t=time.monotonic(); os.kill(pid, signal.SIGTERM)
        while True:
            try:
                if os.waitpid(pid, os.WNOHANG) != (0, 0): break
            except ChildProcessError: break
            if time.monotonic()-t > 100: print("still alive"); break
            time.sleep(0.2)
        print("exited after", time.monotonic()-t); th.join()
        print(other.log_tail(10))
