"""Traffic for the demo's ConsumerApps, so the dashboard has something real to show.

The harness's pods are kwok's (they never run code), so this plays both sides: it produces to
every topic a ConsumerApp in ``examples/`` reads, and commits offsets for each app's group as its
consumers would, falling behind during a burst and catching up after it.

    python docs/demo_traffic.py --bootstrap-servers 127.0.0.1:PORT --duration 240
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def consumer_apps(folder: Path) -> list[tuple[str, list[str]]]:
    """(group id, topics) of every ConsumerApp in the folder's manifests."""
    apps = []
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "ConsumerApp":
                spec = doc["spec"]
                apps.append((spec.get("groupId") or doc["metadata"]["name"], list(spec["topics"])))
    return apps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--duration", type=float, default=240)
    parser.add_argument("--rate", type=int, default=200, help="messages per second per topic outside the burst")
    args = parser.parse_args()
    apps = consumer_apps(EXAMPLES)
    admin = AdminClient({"bootstrap.servers": args.bootstrap_servers})
    producer = Producer({"bootstrap.servers": args.bootstrap_servers, "linger.ms": 20})
    committers = {group: Consumer({"bootstrap.servers": args.bootstrap_servers, "group.id": group,
                                   "enable.auto.commit": False}) for group, _ in apps}
    topics = sorted({t for _, ts in apps for t in ts})
    metadata = admin.list_topics(timeout=10).topics
    partitions = {t: len(metadata[t].partitions) for t in topics if t in metadata}
    produced = dict.fromkeys(partitions, 0)
    position: dict[tuple[str, str, int], int] = {}
    started = time.monotonic()
    print(f"traffic for {len(apps)} groups on {sorted(partitions)} for {args.duration:.0f}s", flush=True)
    while (elapsed := time.monotonic() - started) < args.duration:
        burst = args.duration * 0.25 <= elapsed < args.duration * 0.4
        per_tick = (args.rate * 10 if burst else args.rate) // 2
        for topic, count in partitions.items():
            for i in range(per_tick):
                producer.produce(topic, value=b"event %d" % i, partition=i % count)
            produced[topic] += per_tick
        producer.flush(10)
        # Consumers drain 1.5x the steady rate: they keep up, fall behind in the burst, catch up after.
        for group, group_topics in apps:
            offsets = []
            for topic in (t for t in group_topics if t in partitions):
                capacity = max(1, int(args.rate * 0.75 / partitions[topic]))
                for p in range(partitions[topic]):
                    low, high = committers[group].get_watermark_offsets(TopicPartition(topic, p), timeout=5)
                    key = (group, topic, p)
                    position[key] = min(high, max(low, position.get(key, low)) + capacity)
                    offsets.append(TopicPartition(topic, p, position[key]))
            if offsets:
                committers[group].commit(offsets=offsets, asynchronous=False)
        time.sleep(0.5)
    for consumer in committers.values():
        consumer.close()
    print(f"produced {sum(produced.values())} messages", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
