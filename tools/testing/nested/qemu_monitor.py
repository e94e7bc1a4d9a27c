#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# qemu_monitor.py - send human-monitor commands to a running QEMU over its
# unix socket (-monitor unix:PATH,server,nowait) and print the replies.
# vmm_qemu_test.sh uses it to show where a hung second-level guest is:
# registers, interrupt controllers, the code at RIP and the stack.
#
# Usage: qemu_monitor.py SOCKET COMMAND...
# "{RSP}" in a command stands for the RSP that an earlier "info registers"
# printed (the monitor has no 64-bit stack-pointer variable).
import re
import socket
import sys
import time

ESC = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')


def read_all(sock):
    out = b''
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            out += data
    except OSError:
        pass
    return out.decode(errors='replace')


def main():
    if len(sys.argv) < 3:
        sys.exit('usage: qemu_monitor.py SOCKET COMMAND...')
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sys.argv[1])
    sock.settimeout(2)
    read_all(sock)              # the banner and first prompt
    rsp = None
    for cmd in sys.argv[2:]:
        if '{RSP}' in cmd:
            if rsp is None:
                continue
            cmd = cmd.replace('{RSP}', '0x' + rsp)
        sock.sendall((cmd + '\n').encode())
        time.sleep(0.5)
        print('(qemu) ' + cmd)
        reply = ESC.sub('', read_all(sock))
        found = re.search(r'RSP=([0-9a-f]{16})', reply)
        if found:
            rsp = found.group(1)
        for line in reply.splitlines():
            # the monitor echoes the command line as it is typed
            if line.strip() and not line.startswith('(qemu)') and cmd not in line:
                print(line)


if __name__ == '__main__':
    main()
