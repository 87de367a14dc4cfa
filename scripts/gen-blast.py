#!/usr/bin/env python3
"""Writes a SYNTHETIC blast-radius incident: one PutKeyPolicy adds
`Deny kms:* unless aws:PrincipalArn == user/admin`, which blocks N IAM roles
(assumed-role sessions, as CloudTrail logs them) and AWS Backup's service
principal at once. Record shapes follow the real KMS records in
../shared/real-samples (userIdentity of types AssumedRole and AWSService,
resources[] with the key ARN, PutKeyPolicy's policy as a JSON string).

With --fixed-later, a second PutKeyPolicy restores the first policy and
every caller succeeds again after it; with --broken-again too, a third puts
the Deny back (no call is logged after it).

Writes DIR/logs/*.json.gz (500 records a file) and DIR/truth.json.
"""
import argparse
import gzip
import json
import os
import uuid

ACCOUNT = "111122223333"
REGION = "eu-west-1"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b1a2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
ADMIN = f"arn:aws:iam::{ACCOUNT}:user/admin"
SID = "Deny actions except Administrator"
BASE = {"Version": "2012-10-17", "Id": "key-default-1", "Statement": [
    {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
     "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}]}
DENY = {"Sid": SID, "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalArn": [ADMIN]}}}


def ident(n):
    return str(uuid.UUID(int=n, version=4))


def record(n, t, name, identity, error=None, params=None, source_ip="10.0.0.1"):
    r = {"eventVersion": "1.08", "userIdentity": identity, "eventTime": t,
         "eventSource": "kms.amazonaws.com", "eventName": name, "awsRegion": REGION,
         "sourceIPAddress": source_ip, "userAgent": "aws-sdk-go/1.44",
         "requestParameters": params or {"keyId": KEY, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
         "responseElements": None, "requestID": ident(10**9 + n), "eventID": ident(n),
         "readOnly": True, "resources": [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": KEY}],
         "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": ACCOUNT,
         "eventCategory": "Management"}
    if error:
        r["errorCode"] = "AccessDenied"
        r["errorMessage"] = error
    return r


def role(i):
    name = f"app-{i:05d}"
    arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
    return {"type": "AssumedRole", "principalId": f"AROAEXAMPLE{i:08d}:session",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/session",
            "accountId": ACCOUNT, "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": f"AROAEXAMPLE{i:08d}",
                                                 "arn": arn, "accountId": ACCOUNT, "userName": name},
                               "attributes": {"creationDate": "2026-11-20T07:00:00Z", "mfaAuthenticated": "false"}}}


SERVICE = {"type": "AWSService", "invokedBy": "backup-storage.amazonaws.com"}
ADMIN_ID = {"type": "IAMUser", "principalId": "AIDAEXAMPLEADMIN", "arn": ADMIN, "accountId": ACCOUNT,
            "userName": "admin"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--roles", type=int, default=1000)
    ap.add_argument("--fixed-later", action="store_true")
    ap.add_argument("--broken-again", action="store_true",
                    help="with --fixed-later: a third PutKeyPolicy puts the Deny back at 11:30")
    ap.add_argument("out")
    a = ap.parse_args()
    after = dict(BASE, Statement=BASE["Statement"] + [DENY])
    denied = lambda who: (f"User: {who} is not authorized to perform: kms:Decrypt on resource: {KEY} "
                          "with an explicit deny in a resource-based policy")
    recs = [record(1, "2026-11-20T08:00:00Z", "CreateKey", ADMIN_ID,
                   params={"policy": json.dumps(BASE), "keyUsage": "ENCRYPT_DECRYPT"})]
    put = record(2, "2026-11-20T09:10:00Z", "PutKeyPolicy", ADMIN_ID,
                 params={"keyId": KEY, "policyName": "default", "policy": json.dumps(after)})
    recs.append(put)
    n = 10
    callers = [(role(i), role(i)["arn"]) for i in range(a.roles)] + [(SERVICE, "backup-storage.amazonaws.com")]
    for who, name in callers:
        ip = "backup-storage.amazonaws.com" if who is SERVICE else "10.0.0.1"
        recs.append(record(n, "2026-11-20T08:30:00Z", "Decrypt", who, source_ip=ip))
        recs.append(record(n + 1, "2026-11-20T09:30:00Z", "Decrypt", who, denied(name), source_ip=ip))
        n += 2
    truth = {"synthetic": True, "key": KEY, "cause_event_id": put["eventID"], "sid": SID,
             "blocked": len(callers), "state": "ongoing"}
    if a.fixed_later:
        fix = record(3, "2026-11-20T10:40:00Z", "PutKeyPolicy", ADMIN_ID,
                     params={"keyId": KEY, "policyName": "default", "policy": json.dumps(BASE)})
        recs.append(fix)
        for who, _ in callers:
            ip = "backup-storage.amazonaws.com" if who is SERVICE else "10.0.0.1"
            recs.append(record(n, "2026-11-20T11:00:00Z", "Decrypt", who, source_ip=ip))
            n += 1
        truth.update(state="resolved", resolved_by=fix["eventID"])
        if a.broken_again:
            recs.append(record(4, "2026-11-20T11:30:00Z", "PutKeyPolicy", ADMIN_ID,
                               params={"keyId": KEY, "policyName": "default",
                                       "policy": json.dumps(after)}))
            truth.update(state="ongoing", resolved_by=None)
    logs = os.path.join(a.out, "logs")
    os.makedirs(logs, exist_ok=True)
    for i in range(0, len(recs), 500):
        with gzip.open(os.path.join(logs, f"part-{i // 500:05d}.json.gz"), "wt") as f:
            json.dump({"Records": recs[i:i + 500]}, f)
    with open(os.path.join(a.out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)


if __name__ == "__main__":
    main()
