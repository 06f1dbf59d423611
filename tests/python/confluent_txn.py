#!/usr/bin/python3
"""confluent-kafka-python (librdkafka) transactions, driven by
tests/confluent_txn_test.go. Prints JSON; client errors end it non-zero.

  confluent_txn.py run BOOTSTRAP TOPIC TXNID
      a transactional producer commits c0..c4, aborts a0..a2, commits c5;
      then a read_committed and a read_uncommitted consumer each read TOPIC
      from the start until they see c5
"""
import argparse
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer


def transact(producer, topic, values, commit):
    producer.begin_transaction()
    for v in values:
        producer.produce(topic, value=v.encode())
    producer.flush(30)
    if commit:
        producer.commit_transaction(30)
    else:
        producer.abort_transaction(30)


def read(bootstrap, topic, isolation, last, timeout=60):
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "confluent-txn-" + isolation,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": isolation,
    })
    consumer.subscribe([topic])
    values = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            raise KafkaException(msg.error())
        values.append(msg.value().decode())
        if values[-1] == last:
            break
    consumer.close()
    return values


def run(args):
    producer = Producer({"bootstrap.servers": args.bootstrap, "transactional.id": args.txnid})
    producer.init_transactions(30)
    transact(producer, args.topic, ["c%d" % i for i in range(5)], True)
    transact(producer, args.topic, ["a%d" % i for i in range(3)], False)
    transact(producer, args.topic, ["c5"], True)
    return {
        "read_committed": read(args.bootstrap, args.topic, "read_committed", "c5"),
        "read_uncommitted": read(args.bootstrap, args.topic, "read_uncommitted", "c5"),
    }


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    pr = sub.add_parser("run")
    pr.add_argument("bootstrap")
    pr.add_argument("topic")
    pr.add_argument("txnid")
    args = p.parse_args()
    json.dump(run(args), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
