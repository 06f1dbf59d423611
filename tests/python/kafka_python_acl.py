#!/usr/bin/python3
"""kafka-python (Debian python3-kafka 2.0.2) against a broker with ACLs.

Prints JSON: what was produced or consumed, or the name of the
kafka.errors exception the client raised (a denial is an expected answer
here, so it is reported instead of failing the script).

  kafka_python_acl.py produce BOOTSTRAP TOPIC VALUE [MAX_BLOCK_MS]
  kafka_python_acl.py consume BOOTSTRAP TOPIC
"""
import json
import sys

from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError


def produce(bootstrap, topic, value, max_block_ms):
    producer = KafkaProducer(bootstrap_servers=bootstrap, max_block_ms=max_block_ms)
    md = producer.send(topic, value.encode()).get(timeout=30)
    producer.close()
    return {"offset": md.offset}


def consume(bootstrap, topic):
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=20000)
    values = []
    for msg in consumer:
        values.append(msg.value.decode())
        break
    consumer.close()
    return {"values": values}


def main():
    cmd, bootstrap, topic = sys.argv[1:4]
    try:
        if cmd == "produce":
            max_block_ms = int(sys.argv[5]) if len(sys.argv) > 5 else 20000
            out = produce(bootstrap, topic, sys.argv[4], max_block_ms)
        else:
            out = consume(bootstrap, topic)
    except KafkaError as e:
        out = {"error": type(e).__name__}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
