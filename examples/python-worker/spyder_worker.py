#!/usr/bin/env python3
"""A spyder worker in Python, written from PROTOCOL.md alone.

It needs pyzmq (Debian: python3-zmq) and the standard library. It fetches
one URL at a time with urllib (in a thread, so that its heartbeats list the
URLs it holds on time), extracts <a href> links with html.parser, each
once, and sends results back to the master as PROTOCOL.md describes.

    python3 spyder_worker.py --push tcp://127.0.0.1:5550 --sub tcp://127.0.0.1:5551 \
        --mgmt-master tcp://127.0.0.1:5552 --mgmt-worker tcp://127.0.0.1:5553
"""
import argparse
import collections
import concurrent.futures
import html.parser
import json
import os
import signal
import socket
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import zmq

PROTO = 1
STRING, I16, I64, DOUBLE, MAP, STOP = 0x0B, 0x06, 0x0A, 0x04, 0x0D, 0x00
FIELDS = {  # id -> (name, type)
    1: ("url", STRING), 2: ("effective_url", STRING), 3: ("current_priority", I16),
    4: ("begin_processing", I64), 5: ("end_processing", I64), 6: ("req_header", MAP),
    7: ("rep_header", MAP), 8: ("content_body", STRING), 9: ("status_code", I16),
    10: ("req_time", DOUBLE), 11: ("queue_time", DOUBLE), 12: ("optional_vars", MAP),
    13: ("lease_id", I64), 14: ("worker_id", STRING), 15: ("error", STRING),
}
TEXT = {"url", "effective_url", "worker_id", "error"}


# --- CrawlUri, PROTOCOL.md section 2.1 ---------------------------------------

def encode(c):
    out = bytearray()
    for fid, (name, typ) in sorted(FIELDS.items()):
        v = c.get(name)
        if not v and name != "url":
            continue  # unset fields are left out
        out += struct.pack(">bh", typ, fid)
        if typ == STRING:
            b = v.encode() if isinstance(v, str) else v
            out += struct.pack(">i", len(b)) + b
        elif typ == I16:
            out += struct.pack(">h", v)
        elif typ == I64:
            out += struct.pack(">q", v)
        elif typ == DOUBLE:
            out += struct.pack(">d", v)
        elif typ == MAP:
            out += struct.pack(">bbi", STRING, STRING, len(v))
            for k in sorted(v):
                kb, vb = k.encode(), v[k].encode()
                out += struct.pack(">i", len(kb)) + kb + struct.pack(">i", len(vb)) + vb
    out.append(STOP)
    return bytes(out)


class Malformed(Exception):
    pass


def decode(b):
    pos = 0

    def take(n):
        nonlocal pos
        if n < 0 or pos + n > len(b):
            raise Malformed("truncated")
        pos += n
        return b[pos - n:pos]

    def string():
        (n,) = struct.unpack(">i", take(4))
        return take(n)

    def skip(typ, depth=0):
        if depth > 16:
            raise Malformed("too deep")
        sizes = {2: 1, 3: 1, 4: 8, 6: 2, 8: 4, 10: 8}
        if typ in sizes:
            take(sizes[typ])
        elif typ == STRING:
            string()
        elif typ == 12:  # struct
            while True:
                t = take(1)[0]
                if t == STOP:
                    return
                take(2)
                skip(t, depth + 1)
        elif typ == MAP:
            kt, vt = take(1)[0], take(1)[0]
            (n,) = struct.unpack(">i", take(4))
            for _ in range(n):
                skip(kt, depth + 1)
                skip(vt, depth + 1)
        elif typ in (14, 15):  # set, list
            et = take(1)[0]
            (n,) = struct.unpack(">i", take(4))
            for _ in range(n):
                skip(et, depth + 1)
        else:
            raise Malformed("unknown type %d" % typ)

    c = {}
    while True:
        typ = take(1)[0]
        if typ == STOP:
            break
        (fid,) = struct.unpack(">h", take(2))
        name, want = FIELDS.get(fid, (None, None))
        if name is None or typ != want:
            skip(typ)
        elif typ == STRING:
            v = string()
            c[name] = v.decode("utf-8", "replace") if name in TEXT else v
        elif typ == I16:
            (c[name],) = struct.unpack(">h", take(2))
        elif typ == I64:
            (c[name],) = struct.unpack(">q", take(8))
        elif typ == DOUBLE:
            (c[name],) = struct.unpack(">d", take(8))
        elif typ == MAP:
            kt, vt = take(1)[0], take(1)[0]
            (n,) = struct.unpack(">i", take(4))
            if kt != STRING or vt != STRING:
                raise Malformed("map type")
            c[name] = {string().decode(): string().decode() for _ in range(n)}
    if pos != len(b) or not c.get("url"):
        raise Malformed("trailing bytes or no url")
    return c


# --- fetching and links --------------------------------------------------------

class Links(html.parser.HTMLParser):
    def __init__(self, base):
        super().__init__()
        self.base, self.links, self.base_set = base, [], False

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if href is None:
            return
        if tag == "base" and not self.base_set:
            self.base, self.base_set = urllib.parse.urljoin(self.base, href.strip()), True
        elif tag == "a":
            u = urllib.parse.urljoin(self.base, href.strip())
            u = urllib.parse.urldefrag(u)[0]
            if u.endswith(("?", "&")):  # spyder's CleanupQueryString
                u = u[:-1]
            if u.startswith(("http://", "https://")) and u not in self.links:
                self.links.append(u)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx is a result; its Location becomes a link


class RobotsRedirect(urllib.request.HTTPRedirectHandler):
    max_redirections = 5  # RFC 9309 2.3.1.2: the master needs the file itself


OPENER = urllib.request.build_opener(NoRedirect)
ROBOTS_OPENER = urllib.request.build_opener(RobotsRedirect)


def is_robots_txt(url):
    parts = urllib.parse.urlsplit(url)
    return parts.path == "/robots.txt" and not parts.query


def fetch(c, user_agent, timeout):
    start = time.monotonic()
    req = urllib.request.Request(c["url"], headers={"User-Agent": user_agent})
    try:
        try:
            opener = ROBOTS_OPENER if is_robots_txt(c["url"]) else OPENER
            resp = opener.open(req, timeout=timeout)
        except urllib.error.HTTPError as e:  # 3xx, 4xx, 5xx still carry a response
            resp = e
        body = resp.read()
        c["status_code"] = resp.status if hasattr(resp, "status") else resp.code
        c["rep_header"] = {k: v for k, v in resp.headers.items()}
        c["content_body"] = body
        c["effective_url"] = resp.geturl() or c["url"]
    except Exception as e:  # transport error
        c["status_code"], c["error"] = 599, str(e) or type(e).__name__
        c["effective_url"] = c["url"]
    c["req_time"] = time.monotonic() - start
    status = c["status_code"]
    links = []
    if 200 <= status < 300 and "html" in c.get("rep_header", {}).get("Content-Type", ""):
        p = Links(c.get("effective_url") or c["url"])
        p.feed(c["content_body"].decode("utf-8", "replace"))
        links = p.links
    elif 300 <= status < 400 and c.get("rep_header", {}).get("Location"):
        # Relative to the URL that answered (section 2.2).
        links = [urllib.parse.urljoin(c.get("effective_url") or c["url"], c["rep_header"]["Location"])]
    if links:
        c.setdefault("optional_vars", {})["extracted_urls"] = "\n".join(links)


# --- the worker ----------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--push", required=True, help="the master's zeromq_master_push")
    ap.add_argument("--sub", required=True, help="the master's zeromq_master_sub")
    ap.add_argument("--mgmt-master", required=True, help="zeromq_mgmt_master")
    ap.add_argument("--mgmt-worker", required=True, help="zeromq_mgmt_worker")
    ap.add_argument("--heartbeat", type=float, default=1.0)
    ap.add_argument("--user-agent", default="spyder-python-worker/1")
    ap.add_argument("--timeout", type=float, default=20.0)
    args = ap.parse_args()

    me = "worker:%s:%d" % (socket.gethostname(), os.getpid())
    ctx = zmq.Context()
    results = ctx.socket(zmq.XPUB)  # section 1.1
    results.setsockopt(zmq.XPUB_VERBOSE, 1)
    results.setsockopt(zmq.XPUB_NODROP, 1)
    results.setsockopt(zmq.LINGER, 2000)
    results.connect(args.sub)
    msub = ctx.socket(zmq.SUB)
    msub.setsockopt(zmq.SUBSCRIBE, b"spyder.")
    msub.connect(args.mgmt_master)
    mpub = ctx.socket(zmq.PUB)
    mpub.setsockopt(zmq.LINGER, 2000)
    mpub.connect(args.mgmt_worker)
    work = ctx.socket(zmq.PULL)
    work.setsockopt(zmq.RCVHWM, 1)
    work.setsockopt(zmq.LINGER, 0)

    stopping = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stopping.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stopping.update(now=True))

    poller = zmq.Poller()
    poller.register(results, zmq.POLLIN)
    poller.register(msub, zmq.POLLIN)
    ready = acked = False
    master, master_seen, next_beat = None, time.monotonic(), 0.0
    done = errors = 0
    # Section 3.1: every URL read is held (and listed in heartbeats) until
    # its result is sent; the PULL socket is read eagerly into `waiting`,
    # and one fetch runs in a thread so that heartbeats keep their time.
    waiting = collections.deque()  # (identity frame, CrawlUri, time received)
    fetcher = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    running = None  # (identity frame, CrawlUri, future)

    def mgmt(verb, body=None):
        data = verb if body is None else verb + " " + json.dumps(body)
        mpub.send_multipart([b"spyder.worker.", me.encode(), data.encode()])

    def held():
        leases = [c.get("lease_id", 0) for _, c, _ in waiting]
        if running:
            leases.append(running[1].get("lease_id", 0))
        return leases

    def timed_fetch(c, received):
        fetch(c, args.user_agent, args.timeout)
        c["queue_time"] = max(time.monotonic() - received - c["req_time"], 0.0)
        return c

    while True:
        now = time.monotonic()
        if ready and now >= next_beat:
            if acked and now - master_seen > 3 * args.heartbeat:
                acked = False  # section 3.2, step 3
            leases = held()
            mgmt("heartbeat" if acked else "be here now",
                 {"proto": PROTO, "max_clients": 1, "inflight": len(leases), "done": done, "errors": errors, "leases": leases})
            next_beat = now + args.heartbeat
        if stopping["now"]:
            break
        if running and running[2].done():
            identity, _, future = running
            c = future.result()
            c["worker_id"] = me
            if c["status_code"] >= 400:
                errors += 1
            else:
                done += 1
            results.send_multipart([identity, encode(c)])
            running = None
        if running is None and waiting:
            identity, c, received = waiting.popleft()
            running = (identity, c, fetcher.submit(timed_fetch, c, received))
        for sock, _ in poller.poll(timeout=20 if running else 100):
            if sock is results:
                frame = results.recv()
                if not ready and frame[:1] == b"\x01":
                    ready = True
                    work.connect(args.push)
                    poller.register(work, zmq.POLLIN)
                    next_beat = 0.0
            elif sock is msub:
                topic, sender, data = msub.recv_multipart()
                verb = data.split(b" {", 1)[0]
                if topic == b"spyder.to." + me.encode() and verb == b"ack":
                    acked, master, master_seen = True, sender, time.monotonic()
                elif topic == b"spyder.master." and verb == b"heartbeat":
                    if acked and sender != master:
                        acked = False
                    elif sender == master:
                        master_seen = time.monotonic()
                elif topic in (b"spyder.worker.", b"spyder.to." + me.encode()) and verb == b"quit" and sender.startswith(b"master:"):
                    stopping["now"] = True
            elif sock is work and not stopping["now"]:
                while True:  # eagerly: whatever is there
                    try:
                        frames = work.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    if len(frames) != 2:
                        continue
                    try:
                        waiting.append((frames[0], decode(frames[1]), time.monotonic()))
                    except (Malformed, struct.error):
                        continue

    # Section 3.2, step 4: finish the running fetch, hand back whatever is
    # waiting or still arrives, then quit.ack.
    if running:
        identity, _, future = running
        c = future.result()
        c["worker_id"] = me
        results.send_multipart([identity, encode(c)])
    fetcher.shutdown()

    def hand_back(identity, c):
        results.send_multipart([identity, encode({"url": c["url"], "lease_id": c.get("lease_id", 0), "worker_id": me})])

    for identity, c, _ in waiting:
        hand_back(identity, c)
    while ready:
        try:
            frames = work.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            break
        try:
            hand_back(frames[0], decode(frames[1]))
        except (Malformed, struct.error, IndexError):
            continue
    mgmt("quit.ack")
    for s in (work, results, msub, mpub):
        s.close()
    ctx.term()
    print("python worker: done=%d errors=%d" % (done, errors), file=sys.stderr)


if __name__ == "__main__":
    main()
