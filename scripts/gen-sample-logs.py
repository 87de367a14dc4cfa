#!/usr/bin/env python3
"""Write the synthetic sample incident under sample-logs/ (every record is made up).

    python3 scripts/gen-sample-logs.py            # writes sample-logs/ next to scripts/
    python3 scripts/gen-sample-logs.py --out DIR  # writes DIR/incident-2026-11-backup-vault/...

Every record is SYNTHETIC: written by this script, shaped after the CloudTrail
examples in the AWS documentation (KMS, Backup, S3, EC2, STS log entries). No
record comes from a real account. Account 111122223333, region eu-west-1,
2026-11-10 .. 2026-11-12.

The incident (the one in README.md): on 2026-11-11 the administrator adds a
"Deny actions except Administrator" statement (StringNotEquals aws:PrincipalArn)
to the backup vault key. AWS Backup's calls through its service principal
(backup-storage.amazonaws.com) and the backup role's forward-access calls
(invokedBy backup.amazonaws.com) are denied from then on; the administrator is
not. Noise that must not be blamed on that statement: a developer denied by a
missing identity-based permission on another key, an EBS key that is disabled
part-way, and ordinary non-KMS events. A Lambda function that used the vault
key goes silent after the change.

Outputs (under OUT/incident-2026-11-backup-vault/):
  AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/DD/*.json.gz   gzipped {"Records":[...]}
  AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/11/DD/*.json.gz   one digest file
  lookup-events-kms.json     `aws cloudtrail lookup-events` output, duplicates of S3 records
  policies/key-policy-{before,after,fixed}.json
  expected.json              what a correct analysis finds, computed from the records

Deterministic: fixed seed, gzip mtime 0 and no file name in the gzip header,
sorted keys where order is not part of the format. Standard library only.
"""
import argparse
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import string
import uuid

SEED = 20261111
INCIDENT = "incident-2026-11-backup-vault"
ACCOUNT = "111122223333"
REGION = "eu-west-1"
TRAIL = "management-trail"
BUCKET = f"aws-cloudtrail-logs-{ACCOUNT}-3f9a1c2e"

VAULT_KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
APP_KEY_ID = "0987dcba-09fe-87dc-65ba-ab0987654321"
EBS_KEY_ID = "5c2a1f3e-7b6d-4e8f-9a0b-1c2d3e4f5a6b"


def key_arn(key_id):
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"


VAULT_KEY = key_arn(VAULT_KEY_ID)
APP_KEY = key_arn(APP_KEY_ID)
EBS_KEY = key_arn(EBS_KEY_ID)
VAULT_ALIAS = "alias/prod-backup-vault"

ADMIN = f"arn:aws:iam::{ACCOUNT}:user/admin"
DEV = f"arn:aws:iam::{ACCOUNT}:user/dev-alice"
BACKUP_ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"
BACKUP_SESSION = "AWSBackup-AWSBackupDefaultServiceRole"
UPLOADER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/app-uploader"
APP_SERVER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/app-server"
CI_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci-deployer"
LAMBDA_FN = "vault-restore-check"
LAMBDA_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{LAMBDA_FN}-role"
LAMBDA_FN_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{LAMBDA_FN}"
VAULT = "prod-vault"
UPLOAD_BUCKET = f"app-uploads-{ACCOUNT}"

START = dt.datetime(2026, 11, 10, tzinfo=dt.timezone.utc)
END = dt.datetime(2026, 11, 12, 23, 30, tzinfo=dt.timezone.utc)
CREATE_AT = dt.datetime(2026, 11, 10, 0, 12, 41, tzinfo=dt.timezone.utc)   # CreateKey (policy before)
CHANGE_AT = dt.datetime(2026, 11, 11, 10, 42, 17, tzinfo=dt.timezone.utc)  # PutKeyPolicy (policy after)
DISABLE_AT = dt.datetime(2026, 11, 12, 8, 15, 3, tzinfo=dt.timezone.utc)   # DisableKey on the EBS key

DENY_SID = "Deny actions except Administrator"


def policy_before():
    return {
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def policy_after():
    p = policy_before()
    p["Statement"].append({
        "Sid": DENY_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "kms:*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalArn": [ADMIN]}},
    })
    return p


def policy_fixed():
    p = policy_after()
    p["Statement"][1]["Condition"]["BoolIfExists"] = {"aws:PrincipalIsAWSService": "false"}
    return p


def policy_string(p):
    """The policy as the console / CLI sends it: a JSON document inside a string."""
    return json.dumps(p, indent=2, separators=(",", " : "))


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def console_time(t):
    """The 'Nov 10, 2026, 3:00:00 AM' form CloudTrail uses inside responseElements."""
    hour = t.hour % 12 or 12
    return f"{t:%b} {t.day}, {t.year}, {hour}:{t:%M:%S} {'AM' if t.hour < 12 else 'PM'}"


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.records = []

    # --- random pieces -------------------------------------------------
    def hexid(self, n):
        return "".join(self.r.choice("0123456789abcdef") for _ in range(n))

    def uid(self):
        return str(uuid.UUID(int=self.r.getrandbits(128), version=4))

    def alnum(self, n):
        return "".join(self.r.choice(string.ascii_letters + string.digits) for _ in range(n))

    def akid(self, prefix):
        return prefix + "".join(self.r.choice(string.ascii_uppercase + string.digits) for _ in range(16))

    def jitter(self, t, lo, hi):
        return t + dt.timedelta(seconds=self.r.randint(lo, hi))

    # --- identities ----------------------------------------------------
    def iam_user(self, arn, console=False):
        ident = {
            "type": "IAMUser",
            "principalId": "AIDA" + ("ADMINEXAMPLE00001" if arn == ADMIN else "DEVALICEEXAMPLE02"),
            "arn": arn,
            "accountId": ACCOUNT,
            "accessKeyId": self.akid("ASIA" if console else "AKIA"),
            "userName": arn.rsplit("/", 1)[1],
        }
        if console:
            ident["sessionContext"] = {
                "sessionIssuer": {},
                "webIdFederationData": {},
                "attributes": {"creationDate": "2026-11-11T10:31:09Z", "mfaAuthenticated": "true"},
            }
        return ident

    def assumed_role(self, role_arn, session, invoked_by=None, created=None):
        name = role_arn.rsplit("/", 1)[1]
        pid = "AROA" + hashlib.sha256(role_arn.encode()).hexdigest()[:17].upper()
        ident = {
            "type": "AssumedRole",
            "principalId": f"{pid}:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{session}",
            "accountId": ACCOUNT,
            "accessKeyId": self.akid("ASIA"),
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": pid, "arn": role_arn,
                                  "accountId": ACCOUNT, "userName": name},
                "webIdFederationData": {},
                "attributes": {"creationDate": created or "2026-11-10T00:00:00Z", "mfaAuthenticated": "false"},
            },
        }
        if invoked_by:
            ident["invokedBy"] = invoked_by
        return ident

    # --- records -------------------------------------------------------
    def record(self, t, ident, source, name, req, resp=None, resources=None, error=None,
               src_ip=None, agent=None, read_only=True, data_event=False, version="1.09",
               console=False, tls_host=None, extra=None):
        is_service = ident.get("type") == "AWSService"
        via = ident.get("invokedBy")
        rec = {"eventVersion": version, "userIdentity": ident, "eventTime": ts(t),
               "eventSource": source, "eventName": name, "awsRegion": REGION}
        if via:  # service principal or forward access: the service is the caller on the wire
            rec["sourceIPAddress"] = via
            rec["userAgent"] = via
        else:
            rec["sourceIPAddress"] = src_ip or "198.51.100.23"
            rec["userAgent"] = agent or "aws-cli/2.18.4 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off md/command#kms.decrypt"
        if error:
            rec["errorCode"], rec["errorMessage"] = error
        rec["requestParameters"] = req
        rec["responseElements"] = None if error else resp
        if extra:
            rec["additionalEventData"] = extra
        rec["requestID"] = self.uid()
        rec["eventID"] = self.uid()
        rec["readOnly"] = read_only
        if resources:
            rec["resources"] = resources
        rec["eventType"] = "AwsApiCall"
        rec["managementEvent"] = not data_event
        rec["recipientAccountId"] = ACCOUNT
        if is_service and source == "kms.amazonaws.com":
            rec["sharedEventID"] = self.uid()
        rec["eventCategory"] = "Data" if data_event else "Management"
        if not via:
            rec["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                                 "clientProvidedHostHeader": tls_host or f"{source.split('.')[0]}.{REGION}.amazonaws.com"}
        if console:
            rec["sessionCredentialFromConsole"] = "true"
        self.records.append(rec)
        return rec

    def kms(self, t, ident, name, key, req, error=None, read_only=True, resp=None,
            console=False, version=None, src_ip=None, agent=None, extra_resources=None):
        svc = ident.get("type") == "AWSService"
        resources = [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key}] + (extra_resources or [])
        return self.record(t, ident, "kms.amazonaws.com", name, req, resp=resp, resources=resources,
                           error=error, read_only=read_only, console=console,
                           version=version or ("1.08" if svc else "1.10"),
                           src_ip=src_ip, agent=agent or ("AWS Internal" if console else None))


def res_deny(action, key, who):
    return ("AccessDenied" if who.endswith(".amazonaws.com") else "AccessDeniedException",
            f"User: {who} is not authorized to perform: {action} on resource: {key} "
            f"with an explicit deny in a resource-based policy")


def id_deny(action, key, who):
    return ("AccessDenied",
            f"User: {who} is not authorized to perform: {action} on resource: {key} "
            f"because no identity-based policy allows the {action} action")


def build(g):
    r = g.r
    admin_ip = "203.0.113.42"
    dev_ip = "198.51.100.77"
    console_agent = "AWS Internal"
    backup_ident = {"type": "AWSService", "invokedBy": "backup-storage.amazonaws.com"}
    vault_ctx = {"aws:backup:backup-vault": VAULT}

    def admin(console=True):
        return g.iam_user(ADMIN, console=console)

    # ---- day 1: the key is created with the policy *before* the change ----
    g.kms(CREATE_AT, admin(False), "CreateKey", VAULT_KEY, {
        "policy": policy_string(policy_before()),
        "description": "prod-vault backup encryption key",
        "keyUsage": "ENCRYPT_DECRYPT",
        "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "keySpec": "SYMMETRIC_DEFAULT",
        "origin": "AWS_KMS",
        "bypassPolicyLockoutSafetyCheck": False,
        "tags": [{"tagKey": "team", "tagValue": "platform"}],
        "multiRegion": False,
    }, read_only=False, src_ip=admin_ip, resp={"keyMetadata": {
        "AWSAccountId": ACCOUNT, "keyId": VAULT_KEY_ID, "arn": VAULT_KEY,
        "creationDate": "Nov 10, 2026, 12:12:41 AM", "enabled": True,
        "description": "prod-vault backup encryption key", "keyUsage": "ENCRYPT_DECRYPT",
        "keyState": "Enabled", "origin": "AWS_KMS", "keyManager": "CUSTOMER",
        "customerMasterKeySpec": "SYMMETRIC_DEFAULT", "keySpec": "SYMMETRIC_DEFAULT",
        "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "multiRegion": False}})
    g.kms(CREATE_AT + dt.timedelta(seconds=38), admin(False), "CreateAlias", VAULT_KEY,
          {"aliasName": VAULT_ALIAS, "targetKeyId": VAULT_KEY_ID}, read_only=False, src_ip=admin_ip,
          extra_resources=[{"accountId": ACCOUNT, "type": "AWS::KMS::Key",
                            "ARN": f"arn:aws:kms:{REGION}:{ACCOUNT}:{VAULT_ALIAS}"}])
    g.record(CREATE_AT + dt.timedelta(minutes=6, seconds=12), admin(False), "backup.amazonaws.com",
             "CreateBackupVault", {"backupVaultName": VAULT, "encryptionKeyArn": VAULT_KEY},
             resp={"backupVaultName": VAULT,
                   "backupVaultArn": f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:{VAULT}",
                   "creationDate": "Nov 10, 2026, 12:18:53 AM"},
             read_only=False, src_ip=admin_ip, version="1.09")

    # ---- AWS Backup jobs twice a day on the vault key ----------------------
    windows = [START + dt.timedelta(days=d, hours=h) for d in range(3) for h in (2, 14)]
    for w in windows:
        after = w > CHANGE_AT
        t = g.jitter(w, 5, 90)
        # Backup assumes its role, then describes the key with the role (forward access)
        g.record(t, {"type": "AWSService", "invokedBy": "backup.amazonaws.com"}, "sts.amazonaws.com",
                 "AssumeRole", {"roleArn": BACKUP_ROLE, "roleSessionName": BACKUP_SESSION},
                 resp={"credentials": {"accessKeyId": g.akid("ASIA"),
                                       "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE" + g.hexid(40),
                                       "expiration": console_time(w + dt.timedelta(hours=1))},
                       "assumedRoleUser": {"assumedRoleId": "AROA" + hashlib.sha256(BACKUP_ROLE.encode()).hexdigest()[:17].upper() + ":" + BACKUP_SESSION,
                                           "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSBackupDefaultServiceRole/{BACKUP_SESSION}"}},
                 resources=[{"accountId": ACCOUNT, "type": "AWS::IAM::Role", "ARN": BACKUP_ROLE}],
                 version="1.08")
        role = g.assumed_role(BACKUP_ROLE, BACKUP_SESSION, "backup.amazonaws.com", created=ts(t))
        n_desc = 1 if after else r.randint(1, 2)
        for _ in range(n_desc):
            t = g.jitter(t, 2, 40)
            err = res_deny("kms:DescribeKey", VAULT_KEY, role["arn"]) if after else None
            g.kms(t, role, "DescribeKey", VAULT_KEY, {"keyId": VAULT_KEY}, error=err)
        # Backup storage writes and reads recovery points with the service principal
        n_gdk = r.randint(2, 3) if after else r.randint(4, 7)
        n_dec = r.randint(2, 4) if after else r.randint(5, 9)
        calls = ["GenerateDataKey"] * n_gdk + ["Decrypt"] * n_dec
        r.shuffle(calls)
        for name in calls:
            t = g.jitter(t, 20, 300)
            err = res_deny(f"kms:{name}", VAULT_KEY, "backup-storage.amazonaws.com") if after else None
            if name == "GenerateDataKey":
                req = {"keyId": VAULT_KEY, "encryptionContext": dict(vault_ctx), "keySpec": "AES_256"}
            else:  # Decrypt: the key comes from the ciphertext, so no keyId
                req = {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": dict(vault_ctx)}
            g.kms(t, dict(backup_ident), name, VAULT_KEY, req, error=err)

    # ---- the Lambda function that decrypts its environment with the vault key ----
    # Cold starts about every two to three hours until the change; nothing afterwards.
    t = START + dt.timedelta(minutes=47)
    while True:
        t = g.jitter(t, 2 * 3600, 3 * 3600 + 1800)
        if t >= CHANGE_AT - dt.timedelta(minutes=20):
            break
        g.record(g.jitter(t, -3, -1), {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"},
                 "sts.amazonaws.com", "AssumeRole",
                 {"roleArn": LAMBDA_ROLE, "roleSessionName": LAMBDA_FN, "durationSeconds": 43200},
                 resources=[{"accountId": ACCOUNT, "type": "AWS::IAM::Role", "ARN": LAMBDA_ROLE}],
                 version="1.08")
        ident = g.assumed_role(LAMBDA_ROLE, LAMBDA_FN, "lambda.amazonaws.com", created=ts(t))
        g.kms(t, ident, "Decrypt", VAULT_KEY,
              {"encryptionAlgorithm": "SYMMETRIC_DEFAULT",
               "encryptionContext": {"aws:lambda:FunctionArn": LAMBDA_FN_ARN}})

    # ---- the administrator: looks at the key, makes the change, keeps working ----
    admin_describes = [
        dt.datetime(2026, 11, 10, 9, 3, 11, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 11, 11, 10, 38, 52, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 11, 11, 10, 43, 5, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 11, 11, 15, 12, 40, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 11, 11, 15, 14, 2, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 11, 12, 9, 1, 27, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 11, 12, 14, 55, 9, tzinfo=dt.timezone.utc),
    ]
    g.record(dt.datetime(2026, 11, 11, 10, 31, 9, tzinfo=dt.timezone.utc),
             {"type": "IAMUser", "principalId": "AIDAADMINEXAMPLE00001", "arn": ADMIN,
              "accountId": ACCOUNT, "userName": "admin"},
             "signin.amazonaws.com", "ConsoleLogin", None, resp={"ConsoleLogin": "Success"},
             src_ip=admin_ip, read_only=False, version="1.08",
             agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
             tls_host="signin.aws.amazon.com",
             extra={"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "Yes"})
    for i, t in enumerate(admin_describes):
        key_ref = [VAULT_ALIAS, VAULT_KEY_ID, VAULT_KEY][i % 3]
        g.kms(t, admin(), "DescribeKey", VAULT_KEY, {"keyId": key_ref}, console=True, src_ip=admin_ip)
    g.kms(dt.datetime(2026, 11, 11, 10, 39, 30, tzinfo=dt.timezone.utc), admin(), "GetKeyPolicy", VAULT_KEY,
          {"keyId": VAULT_KEY_ID, "policyName": "default"}, console=True, src_ip=admin_ip)
    g.kms(dt.datetime(2026, 11, 11, 15, 13, 18, tzinfo=dt.timezone.utc), admin(), "GetKeyPolicy", VAULT_KEY,
          {"keyId": VAULT_KEY_ID, "policyName": "default"}, console=True, src_ip=admin_ip)
    put = g.kms(CHANGE_AT, admin(), "PutKeyPolicy", VAULT_KEY, {
        "keyId": VAULT_KEY_ID, "policyName": "default",
        "policy": policy_string(policy_after()), "bypassPolicyLockoutSafetyCheck": False,
    }, read_only=False, console=True, src_ip=admin_ip)

    # ---- noise (a): the app key, used through S3, and a developer without permission ----
    t = START + dt.timedelta(minutes=9)
    while True:
        t = g.jitter(t, 35 * 60, 95 * 60)
        if t >= END:
            break
        ident = g.assumed_role(UPLOADER_ROLE, "i-0" + g.hexid(16), "s3.amazonaws.com",
                               created=ts(t - dt.timedelta(hours=1)))
        obj = f"uploads/2026/11/{t.day:02d}/{g.uid()}.json"
        ctx = {"aws:s3:arn": f"arn:aws:s3:::{UPLOAD_BUCKET}/{obj}"}
        if r.random() < 0.55:
            g.kms(t, ident, "GenerateDataKey", APP_KEY, {"keyId": APP_KEY, "encryptionContext": ctx, "keySpec": "AES_256"})
        else:
            g.kms(t, ident, "Decrypt", APP_KEY, {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": ctx})
        if r.random() < 0.5:  # the matching S3 data event, made with the role directly
            direct = g.assumed_role(UPLOADER_ROLE, ident["arn"].rsplit("/", 1)[1], created=ts(t - dt.timedelta(hours=1)))
            g.record(g.jitter(t, -2, 0), direct, "s3.amazonaws.com", "GetObject",
                     {"bucketName": UPLOAD_BUCKET, "Host": f"{UPLOAD_BUCKET}.s3.{REGION}.amazonaws.com", "key": obj},
                     resources=[{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{UPLOAD_BUCKET}/{obj}"},
                                {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{UPLOAD_BUCKET}"}],
                     data_event=True, src_ip="10.20.3.14", version="1.10",
                     agent="[aws-sdk-java/2.28.16 Linux/6.1.112 OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS]",
                     tls_host=f"{UPLOAD_BUCKET}.s3.{REGION}.amazonaws.com",
                     extra={"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                            "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
                            "x-amz-id-2": g.alnum(60), "bytesTransferredOut": r.randint(800, 60000)})
    dev_tries = [dt.datetime(2026, 11, 11, 16, 2, 5, tzinfo=dt.timezone.utc),
                 dt.datetime(2026, 11, 11, 16, 2, 41, tzinfo=dt.timezone.utc),
                 dt.datetime(2026, 11, 11, 16, 5, 13, tzinfo=dt.timezone.utc),
                 dt.datetime(2026, 11, 12, 10, 20, 55, tzinfo=dt.timezone.utc),
                 dt.datetime(2026, 11, 12, 10, 21, 30, tzinfo=dt.timezone.utc)]
    for t in dev_tries:
        g.kms(t, g.iam_user(DEV), "Decrypt", APP_KEY,
              {"keyId": APP_KEY_ID, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
              error=id_deny("kms:Decrypt", APP_KEY, DEV), src_ip=dev_ip)

    # ---- noise (b): the EBS key, used by EC2 for app-server volumes, disabled part-way ----
    t = START + dt.timedelta(hours=1, minutes=5)
    while True:
        t = g.jitter(t, 2 * 3600, 4 * 3600)
        if t >= END:
            break
        inst = "i-0" + g.hexid(16)
        ident = g.assumed_role(APP_SERVER_ROLE, inst, "ec2.amazonaws.com", created=ts(t - dt.timedelta(minutes=1)))
        off = t > DISABLE_AT
        vol = "vol-0" + g.hexid(16)
        ctx = {"aws:ebs:id": vol}
        if r.random() < 0.3:
            err = ("DisabledException", f"{EBS_KEY} is disabled.") if off else None
            g.kms(t, ident, "GenerateDataKeyWithoutPlaintext", EBS_KEY,
                  {"keyId": EBS_KEY, "numberOfBytes": 64, "encryptionContext": ctx}, error=err)
            t = g.jitter(t, 5, 30)
        err = ("DisabledException", f"{EBS_KEY} is disabled.") if off else None
        # EBS Decrypt: no keyId in the request, the key is only in resources[]
        g.kms(t, ident, "Decrypt", EBS_KEY, {"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": ctx},
              error=err)
    g.kms(DISABLE_AT, admin(), "DisableKey", EBS_KEY, {"keyId": EBS_KEY_ID}, read_only=False,
          console=True, src_ip=admin_ip)

    # ---- noise (c): ordinary non-KMS events ------------------------------
    t = START
    while True:
        t = g.jitter(t, 10 * 60, 50 * 60)
        if t >= END:
            break
        kind = r.randrange(7)
        if kind == 0:
            who = r.choice([g.iam_user(DEV), g.assumed_role(CI_ROLE, "gh-actions-" + g.hexid(8))])
            g.record(t, who, "ec2.amazonaws.com", "DescribeInstances",
                     {"instancesSet": {}, "filterSet": {"items": [{"name": "tag:env", "valueSet": {"items": [{"value": "prod"}]}}]}},
                     src_ip=dev_ip if who["type"] == "IAMUser" else "20.56.131.9", version="1.09")
        elif kind == 1:
            g.record(t, {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}, "sts.amazonaws.com", "AssumeRole",
                     {"roleArn": APP_SERVER_ROLE, "roleSessionName": "i-0" + g.hexid(16)},
                     resources=[{"accountId": ACCOUNT, "type": "AWS::IAM::Role", "ARN": APP_SERVER_ROLE}],
                     version="1.08")
        elif kind == 2:
            who = g.assumed_role(APP_SERVER_ROLE, "i-0" + g.hexid(16))
            g.record(t, who, "monitoring.amazonaws.com", "PutMetricData",
                     {"namespace": "App", "metricData": [{"metricName": "latency", "value": round(r.random() * 100, 2), "unit": "Milliseconds"}]},
                     src_ip="10.20.1.31", read_only=False, version="1.09",
                     agent="aws-sdk-go-v2/1.32.2 os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/cloudwatch#1.42.2")
        elif kind == 3:
            who = g.assumed_role(APP_SERVER_ROLE, "i-0" + g.hexid(16))
            g.record(t, who, "logs.amazonaws.com", "CreateLogStream",
                     {"logGroupName": "/app/server", "logStreamName": g.uid()},
                     src_ip="10.20.1.31", read_only=False, version="1.09",
                     agent="aws-sdk-go-v2/1.32.2 os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/cloudwatchlogs#1.43.0")
        elif kind == 4:
            who = g.assumed_role(CI_ROLE, "gh-actions-" + g.hexid(8))
            g.record(t, who, "ssm.amazonaws.com", "GetParameter",
                     {"name": "/app/config/" + r.choice(["db", "cache", "flags"]), "withDecryption": False},
                     src_ip="20.56.131.9", version="1.09")
        elif kind == 5:
            g.record(t, g.iam_user(DEV), "s3.amazonaws.com", "ListBuckets", {"Host": f"s3.{REGION}.amazonaws.com"},
                     src_ip=dev_ip, version="1.10", tls_host=f"s3.{REGION}.amazonaws.com")
        else:
            g.record(t, g.assumed_role(CI_ROLE, "gh-actions-" + g.hexid(8)), "dynamodb.amazonaws.com",
                     "DescribeTable", {"tableName": r.choice(["orders", "sessions", "users"])},
                     src_ip="20.56.131.9", version="1.09")
    # one non-KMS denial, which is not a KMS key-policy problem either
    g.record(dt.datetime(2026, 11, 12, 10, 19, 2, tzinfo=dt.timezone.utc), g.iam_user(DEV), "ssm.amazonaws.com",
             "GetParameter", {"name": "/prod/backup/vault-config", "withDecryption": True},
             error=("AccessDeniedException",
                    f"User: {DEV} is not authorized to perform: ssm:GetParameter on resource: "
                    f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/prod/backup/vault-config "
                    f"because no identity-based policy allows the ssm:GetParameter action"),
             src_ip=dev_ip, version="1.09")

    g.records.sort(key=lambda x: (x["eventTime"], x["eventID"]))
    return put


# ---------------------------------------------------------------- analysis
DENIED = {"AccessDenied", "AccessDeniedException", "Client.UnauthorizedOperation", "KMS.AccessDeniedException"}
KEY_STATE = {"DisabledException", "KMSInvalidStateException", "NotFoundException"}


def caller_of(rec):
    u = rec["userIdentity"]
    typ, via = u.get("type"), u.get("invokedBy")
    if typ == "AWSService":
        return {"label": f"service:{via}", "type": typ, "principal_arn": None, "invoked_by": via}
    arn = u["sessionContext"]["sessionIssuer"]["arn"] if typ == "AssumedRole" else u["arn"]
    return {"label": f"{arn} via {via}" if via else arn, "type": typ, "principal_arn": arn, "invoked_by": via}


def outcome(rec):
    code = rec.get("errorCode")
    if not code:
        return "succeeded"
    if code in DENIED:
        return "denied"
    if code in KEY_STATE:
        return "key_state_failed"
    return "other_failed"


def kms_key(rec):
    for res in rec.get("resources", []):
        if res.get("type") == "AWS::KMS::Key" and ":key/" in res["ARN"]:
            return res["ARN"]
    return None


def analyse(records, put, lookup_ids, log_files):
    kms = [x for x in records if x["eventSource"] == "kms.amazonaws.com"]
    groups = {}
    for rec in kms:
        c = caller_of(rec)
        k = (kms_key(rec), c["label"], rec["eventName"])
        g = groups.setdefault(k, {"key": k[0], "caller": c["label"], "caller_type": c["type"],
                                  "principal_arn": c["principal_arn"], "invoked_by": c["invoked_by"],
                                  "eventName": k[2], "succeeded": 0, "denied": 0, "key_state_failed": 0,
                                  "other_failed": 0, "first": rec["eventTime"], "last": rec["eventTime"]})
        g[outcome(rec)] += 1
        g["last"] = rec["eventTime"]
    change = put["eventTime"]

    blocked = {}
    for rec in kms:
        if kms_key(rec) != VAULT_KEY or "explicit deny in a resource-based policy" not in rec.get("errorMessage", ""):
            continue
        c = caller_of(rec)
        b = blocked.setdefault(c["label"], {"caller": c["label"], "caller_type": c["type"],
                                            "principal_arn": c["principal_arn"], "invoked_by": c["invoked_by"],
                                            "key": VAULT_KEY, "denied": {}, "succeeded_before_change": {},
                                            "first_denied": rec["eventTime"], "blocking_statement": DENY_SID})
        b["denied"][rec["eventName"]] = b["denied"].get(rec["eventName"], 0) + 1
    for rec in kms:
        c = caller_of(rec)
        if c["label"] in blocked and kms_key(rec) == VAULT_KEY and not rec.get("errorCode") and rec["eventTime"] < change:
            s = blocked[c["label"]]["succeeded_before_change"]
            s[rec["eventName"]] = s.get(rec["eventName"], 0) + 1
    assert set(blocked) == {"service:backup-storage.amazonaws.com", f"{BACKUP_ROLE} via backup.amazonaws.com"}, blocked
    blocked["service:backup-storage.amazonaws.com"]["fixed_by_policy_fixed"] = True
    blocked["service:backup-storage.amazonaws.com"]["why"] = (
        "service principal: aws:PrincipalArn is absent, so StringNotEquals is true and the Deny applies")
    blocked[f"{BACKUP_ROLE} via backup.amazonaws.com"]["fixed_by_policy_fixed"] = False
    blocked[f"{BACKUP_ROLE} via backup.amazonaws.com"]["why"] = (
        "forward access session: aws:PrincipalArn is the role ARN (not the admin) and "
        "aws:PrincipalIsAWSService is false, so the Deny still applies under key-policy-fixed.json; "
        "a narrow fix is StringNotEqualsIfExists kms:ViaService [backup.eu-west-1.amazonaws.com] "
        "or BoolIfExists aws:ViaAWSService false")

    # callers of the vault key that succeeded before the change and made no call after it
    silent = []
    by_caller = {}
    for rec in kms:
        if kms_key(rec) == VAULT_KEY:
            by_caller.setdefault(caller_of(rec)["label"], []).append(rec)
    for label, recs in sorted(by_caller.items()):
        before = [x for x in recs if x["eventTime"] < change and not x.get("errorCode")]
        after = [x for x in recs if x["eventTime"] > change]
        if before and not after and any(x["eventName"] not in ("CreateKey", "CreateAlias") for x in before):
            c = caller_of(recs[0])
            silent.append({"caller": label, "caller_type": c["type"], "principal_arn": c["principal_arn"],
                           "invoked_by": c["invoked_by"], "key": VAULT_KEY,
                           "succeeded_before_change": len(before), "last_seen": before[-1]["eventTime"],
                           "events": sorted({x["eventName"] for x in before}),
                           "new_policy_would_deny": True,
                           "why": "forward access session with aws:PrincipalArn = the function role, "
                                  "not the admin: the Deny matches (and still matches under key-policy-fixed.json)"})
    assert [s["caller"] for s in silent] == [f"{LAMBDA_ROLE} via lambda.amazonaws.com"], silent

    not_blocked = []
    for label, recs in sorted(by_caller.items()):
        after = [x for x in recs if x["eventTime"] > change]
        if after and all(not x.get("errorCode") for x in after):
            not_blocked.append({"caller": label, "succeeded_after_change": len(after),
                                "events": sorted({x["eventName"] for x in after})})

    id_denials = [x for x in kms if "because no identity-based policy allows" in x.get("errorMessage", "")]
    disabled = [x for x in kms if x.get("errorCode") == "DisabledException"]
    dis_ev = next(x for x in kms if x["eventName"] == "DisableKey")
    create_ev = next(x for x in kms if x["eventName"] == "CreateKey")
    return {
        "_about": "Synthetic sample incident written by scripts/gen-sample-logs.py; counts computed from the generated records.",
        "account": ACCOUNT,
        "region": REGION,
        "time_range": {"first": records[0]["eventTime"], "last": records[-1]["eventTime"]},
        "files": {"log_files": log_files, "digest_files": 1, "lookup_events_files": 1},
        "records_in_log_files": len(records),
        "lookup_events": len(lookup_ids),
        "records_read_before_dedup": len(records) + len(lookup_ids),
        "duplicate_event_ids": len(lookup_ids),
        "records_after_dedup": len(records),
        "kms_records_after_dedup": len(kms),
        "non_kms_records": len(records) - len(kms),
        "keys": {"vault": VAULT_KEY, "vault_alias": VAULT_ALIAS, "app": APP_KEY, "ebs": EBS_KEY},
        "policy_changes": [
            {"eventName": "CreateKey", "eventID": create_ev["eventID"], "eventTime": create_ev["eventTime"],
             "key": VAULT_KEY, "by": ADMIN, "policy_file": "policies/key-policy-before.json"},
            {"eventName": "PutKeyPolicy", "eventID": put["eventID"], "eventTime": put["eventTime"],
             "key": VAULT_KEY, "by": ADMIN, "policy_file": "policies/key-policy-after.json",
             "added_statement": DENY_SID},
        ],
        "policy_change": {"eventID": put["eventID"], "eventTime": put["eventTime"], "key": VAULT_KEY,
                          "by": ADMIN, "sid": DENY_SID},
        "blocked_by_key_policy": [blocked[k] for k in sorted(blocked)],
        "silent_callers": silent,
        "not_blocked_on_vault_key": not_blocked,
        "identity_policy_denials": {"count": len(id_denials), "key": APP_KEY, "caller": DEV,
                                    "eventName": "Decrypt", "blame_key_policy": False},
        "disabled_key_errors": {"count": len(disabled), "key": EBS_KEY,
                                "disable_event": {"eventID": dis_ev["eventID"], "eventTime": dis_ev["eventTime"], "by": ADMIN},
                                "blame_key_policy": False},
        "groups": [groups[k] for k in sorted(groups)],
    }


# ---------------------------------------------------------------- writing
def gz_bytes(data):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def ceil5(t):
    t = t.replace(second=0) + dt.timedelta(minutes=1)
    return t + dt.timedelta(minutes=(5 - t.minute % 5) % 5)


def write_logs(g, root):
    """Group records into delivery files: 4-hour slots, some split in two; name = delivery time."""
    r = g.r
    slots = {}
    for rec in g.records:
        t = dt.datetime.strptime(rec["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        slots.setdefault((t.date(), t.hour // 4), []).append((t, rec))
    files = []
    for key in sorted(slots):
        items = slots[key]
        parts = [items]
        if len(items) > 12 and r.random() < 0.6:
            cut = len(items) // 2
            parts = [items[:cut], items[cut:]]
        for part in parts:
            deliver = ceil5(part[-1][0]) + dt.timedelta(minutes=5 * r.randint(0, 2))
            stamp = deliver.strftime("%Y%m%dT%H%MZ")
            rel = (f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/{deliver:%Y/%m/%d}/"
                   f"{ACCOUNT}_CloudTrail_{REGION}_{stamp}_{g.alnum(16)}.json.gz")
            raw = json.dumps({"Records": [x[1] for x in part]}, separators=(",", ":")).encode()
            write(os.path.join(root, rel), gz_bytes(raw))
            files.append({"rel": rel, "deliver": deliver, "raw": raw,
                          "oldest": part[0][1]["eventTime"], "newest": part[-1][1]["eventTime"]})
    return files


def write_digest(g, root, files, change_at):
    """One hourly digest, for the hour in which the log file holding the change was delivered."""
    holder = next(f for f in files if f["oldest"] <= ts(change_at) <= f["newest"])
    start = holder["deliver"].replace(minute=0, second=0) - dt.timedelta(seconds=43)
    end = start + dt.timedelta(hours=1)
    listed = [f for f in files if start <= f["deliver"] < end]
    name_of = lambda t: (f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/{t:%Y/%m/%d}/"  # noqa: E731
                         f"{ACCOUNT}_CloudTrail-Digest_{REGION}_{TRAIL}_{REGION}_{t:%Y%m%dT%H%M%SZ}.json.gz")
    digest = {
        "awsAccountId": ACCOUNT,
        "digestStartTime": ts(start),
        "digestEndTime": ts(end),
        "digestS3Bucket": BUCKET,
        "digestS3Object": name_of(end),
        "digestPublicKeyFingerprint": g.hexid(32),
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": max(f["newest"] for f in listed),
        "oldestEventTime": min(f["oldest"] for f in listed),
        "previousDigestS3Bucket": BUCKET,
        "previousDigestS3Object": name_of(start),
        "previousDigestHashValue": g.hexid(64),
        "previousDigestHashAlgorithm": "SHA-256",
        "previousDigestSignature": g.hexid(512),
        "logFiles": [{"s3Bucket": BUCKET, "s3Object": f["rel"],
                      "hashValue": hashlib.sha256(f["raw"]).hexdigest(), "hashAlgorithm": "SHA-256",
                      "newestEventTime": f["newest"], "oldestEventTime": f["oldest"]} for f in listed],
    }
    write(os.path.join(root, name_of(end)), gz_bytes(json.dumps(digest, separators=(",", ":")).encode()))


def write_lookup(root, records):
    """`aws cloudtrail lookup-events --lookup-attributes AttributeKey=ResourceName,AttributeValue=<vault key>
    --start-time 2026-11-11T00:00:00Z --end-time 2026-11-11T15:00:00Z` (CLI v2 output, newest first)."""
    lo, hi = "2026-11-11T00:00:00Z", "2026-11-11T15:00:00Z"
    picked = [x for x in records if x["eventSource"] == "kms.amazonaws.com" and kms_key(x) == VAULT_KEY
              and lo <= x["eventTime"] < hi]
    picked.sort(key=lambda x: (x["eventTime"], x["eventID"]), reverse=True)
    events = []
    for rec in picked:
        u = rec["userIdentity"]
        ev = {"EventId": rec["eventID"], "EventName": rec["eventName"],
              "ReadOnly": "true" if rec["readOnly"] else "false"}
        if u.get("accessKeyId"):
            ev["AccessKeyId"] = u["accessKeyId"]
        ev["EventTime"] = rec["eventTime"].replace("Z", "+00:00")
        ev["EventSource"] = rec["eventSource"]
        if u.get("type") == "IAMUser":
            ev["Username"] = u["userName"]
        elif u.get("type") == "AssumedRole":
            ev["Username"] = u["arn"].rsplit("/", 1)[1]
        ev["Resources"] = [{"ResourceType": x["type"], "ResourceName": x["ARN"]} for x in rec.get("resources", [])]
        ev["CloudTrailEvent"] = json.dumps(rec, separators=(",", ":"))
        events.append(ev)
    with open(os.path.join(root, "lookup-events-kms.json"), "w") as f:
        json.dump({"Events": events}, f, indent=4)
        f.write("\n")
    return [e["EventId"] for e in events]


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "..", "sample-logs"),
                    help="output folder (default: sample-logs/ beside scripts/)")
    a = ap.parse_args()

    g = Gen(SEED)
    put = build(g)
    root = os.path.join(a.out, INCIDENT)
    for sub in ("AWSLogs", "policies"):  # regenerate from scratch: file names carry random ids
        shutil.rmtree(os.path.join(root, sub), ignore_errors=True)
    files = write_logs(g, root)
    write_digest(g, root, files, CHANGE_AT)
    lookup_ids = write_lookup(root, g.records)
    assert set(lookup_ids) <= {x["eventID"] for x in g.records}

    write_json(os.path.join(root, "policies", "key-policy-before.json"), policy_before())
    write_json(os.path.join(root, "policies", "key-policy-after.json"), policy_after())
    write_json(os.path.join(root, "policies", "key-policy-fixed.json"), policy_fixed())
    assert json.loads(put["requestParameters"]["policy"]) == policy_after()

    # One denied Decrypt by AWS Backup, for README's `denydiff explain` example.
    denied = next(r for r in sorted(g.records, key=lambda r: r["eventTime"])
                  if r["eventName"] == "Decrypt" and r.get("errorCode")
                  and r["userIdentity"].get("invokedBy") == "backup-storage.amazonaws.com")
    write_json(os.path.join(root, "example-denied-decrypt.json"), denied)

    expected = analyse(g.records, put, lookup_ids, len(files))
    write_json(os.path.join(root, "expected.json"), expected)
    print(json.dumps({k: expected[k] for k in ("records_in_log_files", "kms_records_after_dedup",
                                               "lookup_events", "duplicate_event_ids", "files")}))


if __name__ == "__main__":
    main()
