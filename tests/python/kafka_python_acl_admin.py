#!/usr/bin/python3
"""kafka-python's KafkaAdminClient (python3-kafka 2.0.2, ACL APIs v0-v1)
creates, describes and deletes ACLs; prints what each step returned as JSON.

  kafka_python_acl_admin.py BOOTSTRAP
"""
import json
import sys

from kafka.admin import (ACL, ACLFilter, ACLOperation, ACLPermissionType,
                         ACLResourcePatternType, KafkaAdminClient,
                         ResourcePattern, ResourcePatternFilter, ResourceType)


def show(acl):
    p = acl.resource_pattern
    return "%s %s %s %s:%s:%s" % (acl.principal, acl.permission_type.name, acl.operation.name,
                                  p.resource_type.name, p.pattern_type.name, p.resource_name)


def main():
    admin = KafkaAdminClient(bootstrap_servers=sys.argv[1])
    acls = [
        ACL("User:alice", "*", ACLOperation.READ, ACLPermissionType.ALLOW,
            ResourcePattern(ResourceType.TOPIC, "orders")),
        ACL("User:alice", "*", ACLOperation.WRITE, ACLPermissionType.ALLOW,
            ResourcePattern(ResourceType.TOPIC, "ord", ACLResourcePatternType.PREFIXED)),
        ACL("User:bob", "*", ACLOperation.READ, ACLPermissionType.DENY,
            ResourcePattern(ResourceType.GROUP, "billing")),
    ]
    created = admin.create_acls(acls)
    match = ACLFilter(None, None, ACLOperation.ANY, ACLPermissionType.ANY,
                      ResourcePatternFilter(ResourceType.TOPIC, "orders", ACLResourcePatternType.MATCH))
    described, err = admin.describe_acls(match)
    alice = ACLFilter("User:alice", None, ACLOperation.ANY, ACLPermissionType.ANY,
                      ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))
    deleted = admin.delete_acls([alice])
    everything = ACLFilter(None, None, ACLOperation.ANY, ACLPermissionType.ANY,
                           ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))
    remaining, _ = admin.describe_acls(everything)
    admin.close()
    json.dump({
        "created": len(created["succeeded"]),
        "failed": [str(e) for _, e in created["failed"]],
        "described": sorted(show(a) for a in described),
        "describe_error": err.__name__,
        "deleted": sorted(show(a) for _, matched, _ in deleted for a, _ in matched),
        "remaining": sorted(show(a) for a in remaining),
    }, sys.stdout)


if __name__ == "__main__":
    main()
