// An application's test against a real broker started inside the test process: no container, no
// JVM. Run it with `node --test examples/embedded-broker.test.mjs` (kafkajs and sluice installed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker } from 'sluice';

test('orders go through Kafka and come back in order', async () => {
  // Free ports, a temp data dir; groups rebalance at once (a test has one member).
  const broker = await startBroker({ settings: { groupInitialRebalanceDelayMs: 0 } });
  try {
    const kafka = new Kafka({ clientId: 'orders-test', brokers: [broker.kafkaBootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 1 }] });
    await admin.disconnect();

    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'orders', messages: ['o-1', 'o-2', 'o-3'].map((value) => ({ key: 'customer-7', value })) });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: 'billing' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    const seen = [];
    await new Promise((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message }) => {
            seen.push(message.value.toString());
            if (seen.length === 3) resolve();
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
    assert.deepEqual(seen, ['o-1', 'o-2', 'o-3']);
  } finally {
    await broker.close(); // stops the broker and removes its temp dir
  }
});
