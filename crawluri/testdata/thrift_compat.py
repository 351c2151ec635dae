"""Cross-checks the Go codec against Apache Thrift's own Python library.

Reads hex-encoded CrawlUris (one per line) on stdin, decodes each with
thrift's TBinaryProtocol using spyder's schema plus the new fields, and
prints, per line, a JSON object of the decoded fields and the hex of
thrift's re-encoding of the same object.
"""
import json
import sys

from thrift.Thrift import TType
from thrift.TSerialization import deserialize, serialize
from thrift.protocol.TBase import TBase

S, M = (TType.STRING, "UTF8", TType.STRING, "UTF8", False), None


class CrawlUri(TBase):
    thrift_spec = (
        None,
        (1, TType.STRING, "url", "UTF8", None),
        (2, TType.STRING, "effective_url", "UTF8", None),
        (3, TType.I16, "current_priority", None, None),
        (4, TType.I64, "begin_processing", None, None),
        (5, TType.I64, "end_processing", None, None),
        (6, TType.MAP, "req_header", S, None),
        (7, TType.MAP, "rep_header", S, None),
        (8, TType.STRING, "content_body", "BINARY", None),
        (9, TType.I16, "status_code", None, None),
        (10, TType.DOUBLE, "req_time", None, None),
        (11, TType.DOUBLE, "queue_time", None, None),
        (12, TType.MAP, "optional_vars", S, None),
        (13, TType.I64, "lease_id", None, None),
        (14, TType.STRING, "worker_id", "UTF8", None),
        (15, TType.STRING, "error", "UTF8", None),
        (16, TType.I64, "body_length", None, None),
        (17, TType.BOOL, "omit_body", None, None),
        (18, TType.STRING, "archive_dir", "UTF8", None),
        (19, TType.BOOL, "capture", None, None),
        (20, TType.STRING, "raw_request", "BINARY", None),
        (21, TType.STRING, "raw_response", "BINARY", None),
        (22, TType.STRING, "remote_ip", "UTF8", None),
        (23, TType.STRING, "warc_capture", "UTF8", None),
        (24, TType.BOOL, "warc_revisit", None, None),
    )

    def __init__(self, **kw):
        for spec in self.thrift_spec[1:]:
            setattr(self, spec[2], kw.get(spec[2]))


for line in sys.stdin:
    c = deserialize(CrawlUri(), bytes.fromhex(line.strip()))
    fields = {}
    for spec in CrawlUri.thrift_spec[1:]:
        v = getattr(c, spec[2])
        if isinstance(v, bytes):
            v = v.hex()
        if v is not None:
            fields[spec[2]] = v
    print(json.dumps({"fields": fields, "reencoded": serialize(c).hex()}))
