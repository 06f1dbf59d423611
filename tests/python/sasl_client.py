#!/usr/bin/python3
"""kafka-python and confluent-kafka over SASL_PLAINTEXT (or SASL_SSL when a
CA file is given), driven by the Go interop tests (sasl_test.go,
security_test.go): produce COUNT records to TOPIC and read them back,
authenticating with MECHANISM as USER / PASSWORD. Prints JSON; any client
error ends the script non-zero.

  sasl_client.py kafka-python|confluent BOOTSTRAP MECHANISM USER PASSWORD TOPIC COUNT [CAFILE]
"""
import json
import sys
import time


def kafka_python(bootstrap, mech, user, password, topic, count, cafile):
    from kafka import KafkaConsumer, KafkaProducer
    sec = dict(security_protocol="SASL_PLAINTEXT", sasl_mechanism=mech,
               sasl_plain_username=user, sasl_plain_password=password)
    if cafile:
        sec.update(security_protocol="SASL_SSL", ssl_cafile=cafile)
    producer = KafkaProducer(bootstrap_servers=bootstrap, **sec)
    futures = [producer.send(topic, b"v%d" % i) for i in range(count)]
    producer.flush()
    offsets = [f.get(timeout=30).offset for f in futures]
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=20000, **sec)
    values = []
    for msg in consumer:
        values.append(msg.value.decode())
        if len(values) >= count:
            break
    consumer.close()
    return {"offsets": offsets, "values": values}


def confluent(bootstrap, mech, user, password, topic, count, cafile):
    from confluent_kafka import Consumer, KafkaException, Producer
    sec = {"bootstrap.servers": bootstrap, "security.protocol": "SASL_PLAINTEXT",
           "sasl.mechanisms": mech, "sasl.username": user, "sasl.password": password}
    if cafile:
        sec.update({"security.protocol": "SASL_SSL", "ssl.ca.location": cafile})
    producer = Producer(dict(sec, acks="all"))
    offsets, errors = [], []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            offsets.append(msg.offset())

    for i in range(count):
        producer.produce(topic, value=b"v%d" % i, on_delivery=on_delivery)
        producer.poll(0)
    producer.flush(30)
    if errors:
        raise KafkaException(errors[0])
    consumer = Consumer(dict(sec, **{"group.id": "sasl-" + topic, "auto.offset.reset": "earliest"}))
    consumer.subscribe([topic])
    values = []
    deadline = time.time() + 30
    while len(values) < count and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            raise KafkaException(msg.error())
        values.append(msg.value().decode())
    consumer.close()
    return {"offsets": offsets, "values": values}


def main():
    client, bootstrap, mech, user, password, topic, count = sys.argv[1:8]
    cafile = sys.argv[8] if len(sys.argv) > 8 else None
    fn = kafka_python if client == "kafka-python" else confluent
    json.dump(fn(bootstrap, mech, user, password, topic, int(count), cafile), sys.stdout)


if __name__ == "__main__":
    main()
