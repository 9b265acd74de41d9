"""A TCP server thread and a client in one process over localhost (getaddrinfo)."""
import socket
import threading

srv = socket.create_server(("localhost", 0))
port = srv.getsockname()[1]
print("server family", "inet" if srv.family == socket.AF_INET else "inet6")


def serve():
    conn, _ = srv.accept()
    with conn, conn.makefile("rwb") as f:
        for line in f:
            f.write(str(sum(int(x) for x in line.split())).encode() + b"\n")
            f.flush()


th = threading.Thread(target=serve)
th.start()
with socket.create_connection(("localhost", port)) as c, c.makefile("rwb") as f:
    for n in (10, 100, 1000):
        f.write((" ".join(str(i) for i in range(n)) + "\n").encode())
        f.flush()
        print(n, f.readline().decode().strip())
    c.shutdown(socket.SHUT_WR)
th.join()
srv.close()
