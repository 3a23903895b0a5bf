"""An independent Standard Webhooks verifier, written from the specification
with Python's standard library only.

Usage: python3 verify.py SECRET < request.json, where request.json is
{"headers": {"webhook-id": ..., "webhook-timestamp": ..., "webhook-signature": ...},
 "body": "<the raw body>"}. Exits 0 and prints "ok" when one of the
signatures is valid for SECRET and the timestamp is within 5 minutes.
"""
import base64
import hashlib
import hmac
import json
import sys
import time

secret = sys.argv[1]
req = json.load(sys.stdin)
headers = {k.lower(): v for k, v in req["headers"].items()}
msg_id = headers["webhook-id"]
timestamp = headers["webhook-timestamp"]
if abs(time.time() - int(timestamp)) > 5 * 60:
    sys.exit("timestamp out of tolerance")
if not secret.startswith("whsec_"):
    sys.exit("secret without whsec_ prefix")
key = base64.b64decode(secret[len("whsec_"):])
signed = f"{msg_id}.{timestamp}.{req['body']}".encode()
expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
for versioned in headers["webhook-signature"].split(" "):
    version, _, sig = versioned.partition(",")
    if version == "v1" and hmac.compare_digest(sig, expected):
        print("ok")
        sys.exit(0)
sys.exit("no matching signature")
