#!/usr/bin/python3
"""confluent-kafka-python (Debian python3-confluent-kafka, librdkafka) driven
by the Go interop tests. The clients are used as their docs show; the script
prints JSON for the Go test to check. Client errors end it non-zero.

  confluent_client.py produce BOOTSTRAP TOPIC COUNT
  confluent_client.py consume BOOTSTRAP TOPIC GROUP COUNT
  confluent_client.py admin BOOTSTRAP TOPIC
  confluent_client.py produce-lines BOOTSTRAP TOPIC
      one producer at default settings; each stdin line is produced as a
      value and waited for; one JSON line per value ({"value", "error"})
"""
import argparse
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def produce(args):
    producer = Producer({"bootstrap.servers": args.bootstrap, "acks": "all"})
    delivered, errors = [], []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            delivered.append({"key": msg.key().decode(), "partition": msg.partition(), "offset": msg.offset()})

    for i in range(args.count):
        producer.produce(args.topic, key=b"k%d" % i, value=b"v%d" % i, on_delivery=on_delivery)
        producer.poll(0)
    left = producer.flush(30)
    return {"delivered": delivered, "errors": errors, "undelivered": left}


def consume(args):
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([args.topic])
    records = []
    deadline = time.time() + args.timeout
    while len(records) < args.count and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            raise KafkaException(msg.error())
        records.append({"key": msg.key().decode(), "value": msg.value().decode(),
                        "partition": msg.partition(), "offset": msg.offset()})
    committed = []
    if records:
        consumer.commit(asynchronous=False)
        parts = sorted({r["partition"] for r in records})
        for tp in consumer.committed([TopicPartition(args.topic, p) for p in parts], timeout=10):
            committed.append({"partition": tp.partition, "offset": tp.offset})
    consumer.close()
    return {"records": records, "committed": committed}


def admin(args):
    adm = AdminClient({"bootstrap.servers": args.bootstrap})
    out = {}
    fs = adm.create_topics([NewTopic(args.topic, num_partitions=3, replication_factor=1,
                                     config={"retention.ms": "3600000"})])
    fs[args.topic].result(timeout=30)
    md = adm.list_topics(timeout=10)
    out["brokers"] = sorted("%s:%d" % (b.host, b.port) for b in md.brokers.values())
    t = md.topics.get(args.topic)
    out["listed_after_create"] = t is not None and t.error is None
    out["partitions"] = len(t.partitions) if t is not None else 0
    fs = adm.delete_topics([args.topic])
    fs[args.topic].result(timeout=30)
    # Deletion is asynchronous in Kafka; poll the metadata until it is gone.
    deadline = time.time() + 20
    while True:
        gone = args.topic not in adm.list_topics(timeout=10).topics
        if gone or time.time() > deadline:
            break
        time.sleep(0.1)
    out["listed_after_delete"] = not gone
    return out


def produce_lines(args):
    # Default settings on purpose (acks=all is librdkafka's default): the
    # failover timing test measures what an unconfigured client sees.
    producer = Producer({"bootstrap.servers": args.bootstrap})
    for line in sys.stdin:
        value = line.strip()
        result = {}

        def on_delivery(err, msg):
            result["error"] = None if err is None else str(err)

        producer.produce(args.topic, value=value.encode(), on_delivery=on_delivery)
        producer.flush()
        json.dump({"value": value, "error": result.get("error", "not delivered")}, sys.stdout)
        sys.stdout.write("\n")
        sys.stdout.flush()
    return None


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("produce")
    pp.add_argument("bootstrap")
    pp.add_argument("topic")
    pp.add_argument("count", type=int)
    pc = sub.add_parser("consume")
    pc.add_argument("bootstrap")
    pc.add_argument("topic")
    pc.add_argument("group")
    pc.add_argument("count", type=int)
    pc.add_argument("--timeout", type=float, default=30)
    pa = sub.add_parser("admin")
    pa.add_argument("bootstrap")
    pa.add_argument("topic")
    pl = sub.add_parser("produce-lines")
    pl.add_argument("bootstrap")
    pl.add_argument("topic")
    args = p.parse_args()
    fns = {"produce": produce, "consume": consume, "admin": admin, "produce-lines": produce_lines}
    out = fns[args.cmd](args)
    if out is not None:
        json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
