#!/usr/bin/env python3
"""TCP proxy for fault tests: forwards 127.0.0.1:LISTEN to 127.0.0.1:TARGET and,
on any connection whose server-to-client bytes reach AFTER, either stops
forwarding (stall) or closes both sides (cut). Touches MARKER when that happens.
usage: stallproxy.py LISTEN TARGET stall|cut AFTER MARKER"""
import os, socket, sys, threading, time

listen, target, mode, after, marker = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]

def pipe(src, dst, count):
    total = 0
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if count and total + len(data) >= after:
                dst.sendall(data[: max(0, after - total)])
                open(marker, "w").close()
                if mode == "stall":
                    time.sleep(3600)
                # shutdown first: a close() alone does not end a connection
                # another thread still reads, so no FIN would reach the client
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                src.close(); dst.close()
                return
            dst.sendall(data)
            total += len(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen))
srv.listen(16)
while True:
    c, _ = srv.accept()
    try:
        u = socket.create_connection(("127.0.0.1", target))
    except OSError:
        c.close()
        continue
    threading.Thread(target=pipe, args=(c, u, False), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c, True), daemon=True).start()
