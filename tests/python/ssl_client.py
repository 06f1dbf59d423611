#!/usr/bin/python3
"""kafka-python and confluent-kafka over SSL, driven by tests/tls_test.go.

Both clients are configured the way their documentation shows for SSL (CA
file, optional client certificate and key); the script prints JSON.

  ssl_client.py LIB produce BOOTSTRAP TOPIC VALUE... [--ca F] [--cert F --key F]
  ssl_client.py LIB consume BOOTSTRAP TOPIC COUNT   [--ca F] [--cert F --key F]
  ssl_client.py LIB probe   BOOTSTRAP               [--ca F] [--cert F --key F]

LIB is kafka-python or confluent. produce and consume fail (traceback, exit
status 1) on any client error; probe reports {"ok": false, "error": ...}
when the client cannot get metadata, for tests that expect a refusal.
"""
import argparse
import json
import sys


def kp_ssl(args):
    conf = {"security_protocol": "SSL", "ssl_cafile": args.ca}
    if args.cert:
        conf.update(ssl_certfile=args.cert, ssl_keyfile=args.key)
    return conf


def ck_ssl(args):
    conf = {"bootstrap.servers": args.bootstrap, "security.protocol": "SSL", "ssl.ca.location": args.ca}
    if args.cert:
        conf.update({"ssl.certificate.location": args.cert, "ssl.key.location": args.key})
    return conf


def kp_produce(args):
    from kafka import KafkaProducer
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, **kp_ssl(args))
    futures = [producer.send(args.topic, v.encode()) for v in args.rest]
    producer.flush()
    sent = [f.get(timeout=30).offset for f in futures]
    producer.close()
    return {"offsets": sent}


def kp_consume(args):
    from kafka import KafkaConsumer
    consumer = KafkaConsumer(args.topic, bootstrap_servers=args.bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=30000, **kp_ssl(args))
    values = []
    for msg in consumer:
        values.append(msg.value.decode())
        if len(values) >= int(args.rest[0]):
            break
    consumer.close()
    return {"values": values}


def kp_probe(args):
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError
    try:
        consumer = KafkaConsumer(bootstrap_servers=args.bootstrap, request_timeout_ms=5000,
                                 api_version_auto_timeout_ms=5000, **kp_ssl(args))
        topics = consumer.topics()
        consumer.close()
        return {"ok": True, "topics": sorted(topics)}
    except (KafkaError, OSError) as e:  # a refused handshake surfaces as ssl.SSLError
        return {"ok": False, "error": repr(e)}


def ck_produce(args):
    from confluent_kafka import Producer
    producer = Producer(ck_ssl(args))
    errors = []
    for v in args.rest:
        producer.produce(args.topic, v.encode(), on_delivery=lambda err, msg: err and errors.append(str(err)))
    left = producer.flush(30)
    if errors or left:
        raise SystemExit("delivery failed: %s (%d not delivered)" % (errors, left))
    return {"produced": len(args.rest)}


def ck_consume(args):
    from confluent_kafka import Consumer
    conf = ck_ssl(args)
    conf.update({"group.id": "ssl-test", "auto.offset.reset": "earliest"})
    consumer = Consumer(conf)
    consumer.subscribe([args.topic])
    values = []
    while len(values) < int(args.rest[0]):
        msg = consumer.poll(30)
        if msg is None:
            raise SystemExit("no record within 30s; got %s" % values)
        if msg.error():
            raise SystemExit("consume error: %s" % msg.error())
        values.append(msg.value().decode())
    consumer.close()
    return {"values": values}


def ck_probe(args):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient
    try:
        md = AdminClient(ck_ssl(args)).list_topics(timeout=5)
        return {"ok": True, "topics": sorted(md.topics)}
    except KafkaException as e:
        return {"ok": False, "error": str(e)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("lib", choices=["kafka-python", "confluent"])
    p.add_argument("cmd", choices=["produce", "consume", "probe"])
    p.add_argument("bootstrap")
    p.add_argument("topic", nargs="?")
    p.add_argument("rest", nargs="*")
    p.add_argument("--ca", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    args = p.parse_args()
    prefix = "kp_" if args.lib == "kafka-python" else "ck_"
    json.dump(globals()[prefix + args.cmd](args), sys.stdout)
    print()


if __name__ == "__main__":
    main()
