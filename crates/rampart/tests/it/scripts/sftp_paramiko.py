"""A scripted SFTP client (paramiko) against the agent's SFTP server.

Usage: sftp_paramiko.py PORT USER PASSWORD KEYFILE
Prints one JSON object: what worked, what was refused, what was negotiated.
"""
import hashlib
import io
import json
import os
import socket
import sys

import paramiko

port, user, password, keyfile = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
result = {}


def transport(ciphers=None, kex=None, macs=None):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    t = paramiko.Transport(sock)
    opts = t.get_security_options()
    if ciphers:
        opts.ciphers = ciphers
    if kex:
        opts.kex = kex
    if macs:
        opts.digests = macs
    t.start_client(timeout=10)
    return t


def refused(fn):
    try:
        fn()
        return False
    except (IOError, OSError, paramiko.SSHException):
        return True


# Weak algorithms: the handshake must fail.
result["cbc_refused"] = refused(lambda: transport(ciphers=("aes128-cbc", "aes256-cbc")))
result["sha1_kex_refused"] = refused(
    lambda: transport(kex=("diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1"))
)
result["sha1_mac_refused"] = refused(
    lambda: transport(ciphers=("aes128-ctr",), macs=("hmac-sha1",))
)

t = transport()
result["host_key_type"] = t.get_remote_server_key().get_name()
result["cipher"] = t.remote_cipher
t.auth_password(user, password)
sftp = paramiko.SFTPClient.from_transport(t)
result["listing"] = sorted(sftp.listdir("."))
data = os.urandom(1 << 20)
with sftp.open("paramiko.bin", "wb") as f:
    f.set_pipelined(True)
    f.write(data)
with sftp.open("paramiko.bin", "rb") as f:
    back = f.read()
result["round_trip"] = hashlib.sha256(back).hexdigest() == hashlib.sha256(data).hexdigest()
sftp.mkdir("made")
sftp.rename("paramiko.bin", "made/moved.bin")
sftp.chmod("made/moved.bin", 0o640)
st = sftp.stat("made/moved.bin")
result["moved_size"] = st.st_size
result["moved_mode"] = st.st_mode & 0o777
result["escapes_refused"] = {
    "read ../": refused(lambda: sftp.open("../outside/secret").read()),
    "read /etc/passwd": refused(lambda: sftp.open("/etc/passwd").read()),
    "read via link": refused(lambda: sftp.open("host/etc/passwd").read()),
    "write via link": refused(lambda: sftp.open("out/owned", "wb").write(b"x")),
    "mkdir via link": refused(lambda: sftp.mkdir("host/tmp/paramiko-dir")),
    "rename out": refused(lambda: sftp.rename("made/moved.bin", "../moved.bin")),
    "remove via link": refused(lambda: sftp.remove("out/secret")),
    "chmod via link": refused(lambda: sftp.chmod("out/secret", 0o777)),
    "symlink": refused(lambda: sftp.symlink("/", "escape")),
    "listdir via link": refused(lambda: sftp.listdir("host")),
}
# lstat of the link says link, never what it points to.
result["link_is_link"] = (sftp.lstat("host").st_mode & 0o170000) == 0o120000
sftp.close()
t.close()

# A wrong password, then the key.
t = transport()
result["wrong_password_refused"] = refused(lambda: t.auth_password(user, password + "x"))
t.close()
t = transport()
key = paramiko.Ed25519Key.from_private_key_file(keyfile)
t.auth_publickey(user, key)
sftp = paramiko.SFTPClient.from_transport(t)
result["key_listing"] = sorted(sftp.listdir("made"))
sftp.close()
t.close()
print(json.dumps(result))
