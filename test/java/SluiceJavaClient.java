// Apache Kafka's Java client (kafka-clients 4.x, unmodified, default settings) against a Sluice
// broker's Kafka listener, for test/kafka-java.test.ts. One scenario per run:
//
//   java -cp <kafka jars>:<this> SluiceJavaClient <scenario> --bootstrap 127.0.0.1:PORT [--name value ...]
//
// Each check prints one JSON object per line on stdout ({"check": ..., ...}); a check that throws
// prints {"check": ..., "error": {"class": ..., "message": ...}} and the scenario goes on where the
// rest does not depend on it, so that one run says which parts work. The clients get bootstrap
// servers and (de)serializers and nothing else unless the scenario is about a setting
// (compression.type, group.id, group.instance.id): every other setting is the client's default.
// Every wait has a deadline; the test kills the JVM if the whole run outlives its own.

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public final class SluiceJavaClient {
  /** How long any one wait may take (a poll loop, an admin call, a send). */
  static final long DEADLINE_MS = 30_000;

  static Map<String, String> opts = new HashMap<>();

  public static void main(String[] argv) throws Exception {
    if (argv.length < 1) throw new IllegalArgumentException("usage: SluiceJavaClient <scenario> --bootstrap host:port [--name value ...]");
    for (int i = 1; i + 1 < argv.length; i += 2) {
      if (!argv[i].startsWith("--")) throw new IllegalArgumentException("expected --name value, got " + argv[i]);
      opts.put(argv[i].substring(2), argv[i + 1]);
    }
    need("bootstrap");
    switch (argv[0]) {
      case "produce-consume" -> produceConsume();
      case "group-consume" -> groupConsume();
      case "static-member" -> staticMember();
      case "admin" -> admin();
      default -> throw new IllegalArgumentException("unknown scenario " + argv[0]);
    }
    System.out.flush();
    // Client threads (metadata refreshes, a closed consumer's network thread) must not keep the JVM up.
    System.exit(0);
  }

  static String need(String name) {
    String v = opts.get(name);
    if (v == null) throw new IllegalArgumentException("missing --" + name);
    return v;
  }

  // ---- clients with default settings --------------------------------------------------------

  static Properties base() {
    Properties p = new Properties();
    p.put("bootstrap.servers", need("bootstrap"));
    return p;
  }

  static KafkaProducer<byte[], byte[]> producer(Map<String, String> settings) {
    Properties p = base();
    p.putAll(settings);
    return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
  }

  static KafkaConsumer<byte[], byte[]> consumer(Map<String, String> settings) {
    Properties p = base();
    p.putAll(settings);
    return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
  }

  // ---- output ---------------------------------------------------------------------------------

  interface Check {
    void run(Map<String, Object> out) throws Exception;
  }

  /** Runs one check and prints its line; returns whether it ran without throwing. */
  static boolean check(String name, Check body) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("check", name);
    boolean ok = true;
    try {
      body.run(out);
    } catch (Throwable e) {
      Throwable cause = e;
      // Futures wrap the client's exception (ExecutionException, KafkaException): report the innermost.
      while (cause.getCause() != null && cause.getCause() != cause) cause = cause.getCause();
      Map<String, Object> err = new LinkedHashMap<>();
      err.put("class", cause.getClass().getName());
      err.put("message", String.valueOf(cause.getMessage()));
      if (cause != e) err.put("outer", e.getClass().getName() + ": " + e.getMessage());
      out.put("error", err);
      ok = false;
    }
    System.out.println(json(out));
    System.out.flush();
    return ok;
  }

  static String hex(byte[] b) {
    if (b == null) return null;
    StringBuilder s = new StringBuilder(b.length * 2);
    for (byte x : b) s.append(Character.forDigit((x >> 4) & 15, 16)).append(Character.forDigit(x & 15, 16));
    return s.toString();
  }

  static String json(Object v) {
    StringBuilder s = new StringBuilder();
    write(s, v);
    return s.toString();
  }

  static void write(StringBuilder s, Object v) {
    if (v == null) s.append("null");
    else if (v instanceof String str) {
      s.append('"');
      for (char c : str.toCharArray()) {
        if (c == '"' || c == '\\') s.append('\\').append(c);
        else if (c < 0x20) s.append(String.format("\\u%04x", (int) c));
        else s.append(c);
      }
      s.append('"');
    } else if (v instanceof Number || v instanceof Boolean) s.append(v);
    else if (v instanceof byte[] b) write(s, hex(b));
    else if (v instanceof Map<?, ?> m) {
      s.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : m.entrySet()) {
        if (!first) s.append(',');
        first = false;
        write(s, String.valueOf(e.getKey()));
        s.append(':');
        write(s, e.getValue());
      }
      s.append('}');
    } else if (v instanceof Collection<?> c) {
      s.append('[');
      boolean first = true;
      for (Object x : c) {
        if (!first) s.append(',');
        first = false;
        write(s, x);
      }
      s.append(']');
    } else write(s, v.toString());
  }

  static Map<String, Object> record(int partition, long offset, byte[] key, byte[] value, Iterable<Header> headers) {
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("partition", partition);
    r.put("offset", offset);
    r.put("key", key);
    r.put("value", value);
    List<List<Object>> hs = new ArrayList<>();
    for (Header h : headers) hs.add(Arrays.asList(h.key(), hex(h.value())));
    r.put("headers", hs);
    return r;
  }

  static Map<String, Object> record(ConsumerRecord<byte[], byte[]> r) {
    return record(r.partition(), r.offset(), r.key(), r.value(), r.headers());
  }

  static List<Map<String, Object>> partitions(Collection<TopicPartition> tps) {
    return tps.stream()
        .sorted((a, b) -> a.topic().equals(b.topic()) ? Integer.compare(a.partition(), b.partition()) : a.topic().compareTo(b.topic()))
        .map(tp -> {
          Map<String, Object> m = new LinkedHashMap<>();
          m.put("topic", tp.topic());
          m.put("partition", tp.partition());
          return m;
        })
        .collect(Collectors.toList());
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---- a. produce and consume, once per compression.type --------------------------------------

  /** Record i of a run: keys from a small set (so keys share partitions), values from empty and null to 64 KiB. */
  static ProducerRecord<byte[], byte[]> testRecord(String topic, int i) {
    byte[] key = i % 7 == 6 ? null : ("key-" + (i % 5)).getBytes(StandardCharsets.UTF_8);
    byte[] value;
    if (i == 0) value = new byte[0];
    else if (i == 1) value = null;
    else if (i == 2) {
      value = new byte[256];
      for (int b = 0; b < 256; b++) value[b] = (byte) b;
    } else if (i == 3) value = "compressible text, ".repeat(64 * 1024 / 19).getBytes(StandardCharsets.UTF_8);
    else value = ("value-" + i).getBytes(StandardCharsets.UTF_8);
    RecordHeaders headers = new RecordHeaders();
    headers.add("i", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
    if (i % 3 == 0) {
      headers.add("bin", new byte[] {0, 1, (byte) 255});
      headers.add("nothing", null);
      headers.add("i", "again".getBytes(StandardCharsets.UTF_8));
    }
    return new ProducerRecord<>(topic, null, key, value, headers);
  }

  /**
   * --topic-prefix P --compressions none,gzip,... --count N: for each compression C, a default
   * producer with compression.type=C sends N records to topic P+C (made by the test) and a consumer
   * (assign + seekToBeginning, no group) reads them back.
   */
  static void produceConsume() {
    int count = Integer.parseInt(opts.getOrDefault("count", "30"));
    for (String compression : need("compressions").split(",")) {
      String topic = need("topic-prefix") + compression;
      List<Map<String, Object>> sent = new ArrayList<>();
      boolean produced = check("produce", out -> {
        out.put("compression", compression);
        try (KafkaProducer<byte[], byte[]> producer = producer(Map.of("compression.type", compression))) {
          List<Future<RecordMetadata>> acks = new ArrayList<>();
          List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
          for (int i = 0; i < count; i++) {
            ProducerRecord<byte[], byte[]> r = testRecord(topic, i);
            records.add(r);
            acks.add(producer.send(r));
          }
          producer.flush();
          for (int i = 0; i < count; i++) {
            RecordMetadata m = acks.get(i).get(DEADLINE_MS, TimeUnit.MILLISECONDS);
            ProducerRecord<byte[], byte[]> r = records.get(i);
            sent.add(record(m.partition(), m.offset(), r.key(), r.value(), r.headers()));
          }
        }
        out.put("sent", sent);
      });
      if (!produced) continue;
      check("consume", out -> {
        out.put("compression", compression);
        List<Map<String, Object>> received = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(Map.of())) {
          List<TopicPartition> tps = consumer.partitionsFor(topic, Duration.ofMillis(DEADLINE_MS)).stream()
              .map(p -> new TopicPartition(p.topic(), p.partition()))
              .collect(Collectors.toList());
          consumer.assign(tps);
          consumer.seekToBeginning(tps);
          long deadline = System.currentTimeMillis() + DEADLINE_MS;
          while (received.size() < sent.size() && System.currentTimeMillis() < deadline) {
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) received.add(record(r));
          }
        }
        out.put("received", received);
      });
    }
  }

  // ---- b. a consumer group that commits, and a restart that resumes ----------------------------

  /**
   * --topic T --group G --expect N [--from-beginning true]: a default consumer in group G
   * subscribes to T, polls until it has N records, commits (commitSync) and closes. With
   * --from-beginning it seeks to the beginning when partitions are assigned (the first run of a
   * group whose default auto.offset.reset, latest, would skip what is already there); without, its
   * positions are the group's committed offsets.
   */
  static void groupConsume() {
    String topic = need("topic");
    int expect = Integer.parseInt(need("expect"));
    boolean fromBeginning = Boolean.parseBoolean(opts.getOrDefault("from-beginning", "false"));
    check("group-consume", out -> {
      List<Map<String, Object>> received = new ArrayList<>();
      try (KafkaConsumer<byte[], byte[]> consumer = consumer(Map.of("group.id", need("group")))) {
        List<Collection<TopicPartition>> assignments = new ArrayList<>();
        consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
          public void onPartitionsRevoked(Collection<TopicPartition> partitions) {}

          public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            assignments.add(partitions);
            if (fromBeginning) consumer.seekToBeginning(partitions);
          }
        });
        long deadline = System.currentTimeMillis() + DEADLINE_MS;
        while (received.size() < expect && System.currentTimeMillis() < deadline) {
          for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) received.add(record(r));
        }
        out.put("assigned", partitions(consumer.assignment()));
        out.put("generation", consumer.groupMetadata().generationId());
        consumer.commitSync(Duration.ofMillis(DEADLINE_MS));
        Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(consumer.assignment(), Duration.ofMillis(DEADLINE_MS));
        Map<String, Object> byPartition = new TreeMap<>();
        committed.forEach((tp, om) -> byPartition.put(Integer.toString(tp.partition()), om == null ? null : om.offset()));
        out.put("committed", byPartition);
      }
      out.put("received", received);
    });
  }

  // ---- c. a static member rejoins without a rebalance -----------------------------------------

  /** A consumer on its own thread (a KafkaConsumer is single-threaded), polling until stopped, recording its rebalance callbacks. */
  static final class Member implements Runnable {
    final KafkaConsumer<byte[], byte[]> consumer;
    final List<String> events = new CopyOnWriteArrayList<>();
    volatile Set<TopicPartition> assignment = Set.of();
    volatile int generation = -1;
    volatile Throwable failure;
    final AtomicBoolean stop = new AtomicBoolean();
    final Thread thread;

    Member(String name, Map<String, String> settings, String topic) {
      consumer = consumer(settings);
      consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
          events.add("revoked " + partitions.stream().map(TopicPartition::partition).sorted().collect(Collectors.toList()));
        }

        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
          events.add("assigned " + partitions.stream().map(TopicPartition::partition).sorted().collect(Collectors.toList()));
        }
      });
      thread = new Thread(this, name);
      thread.start();
    }

    public void run() {
      try {
        while (!stop.get()) {
          consumer.poll(Duration.ofMillis(100));
          assignment = Set.copyOf(consumer.assignment());
          generation = consumer.groupMetadata().generationId();
        }
      } catch (org.apache.kafka.common.errors.WakeupException e) {
        if (!stop.get()) failure = e; // close() wakes the poll up: not a failure
      } catch (Throwable e) {
        failure = e;
      } finally {
        consumer.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(10)));
      }
    }

    void close() throws InterruptedException {
      stop.set(true);
      consumer.wakeup();
      thread.join(20_000);
    }

    Map<String, Object> state() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("assigned", partitions(assignment));
      m.put("generation", generation);
      m.put("events", new ArrayList<>(events));
      if (failure != null) m.put("failure", failure.toString());
      return m;
    }
  }

  /** Waits until `ready` holds; a member's failure ends the wait with it. */
  static void await(String what, List<Member> members, java.util.function.BooleanSupplier ready) throws Exception {
    long deadline = System.currentTimeMillis() + DEADLINE_MS;
    while (!ready.getAsBoolean()) {
      for (Member m : members) if (m.failure != null) throw new RuntimeException(what + ": " + m.thread.getName() + " failed: " + m.failure, m.failure);
      if (System.currentTimeMillis() > deadline) {
        throw new RuntimeException("timed out waiting until " + what + " (" + members.stream().map(m -> m.thread.getName() + " " + json(m.state())).collect(Collectors.joining(", ")) + ")");
      }
      sleep(20);
    }
  }

  /**
   * --topic T (2 partitions) --group G: member "b" (dynamic) joins first and leads; static member
   * "a" (group.instance.id=a) joins; both hold one partition in the same generation. "a" closes
   * (a static member sends no LeaveGroup) and a new consumer with group.instance.id=a joins: it
   * gets a's partition back in the same generation, and b's callbacks do not fire.
   */
  static void staticMember() throws Exception {
    String topic = need("topic");
    String group = need("group");
    Member b = new Member("member-b", Map.of("group.id", group), topic);
    Member[] a = new Member[1];
    try {
      boolean joined = check("static-join", out -> {
        await("b holds both partitions", List.of(b), () -> b.assignment.size() == 2);
        a[0] = new Member("member-a", Map.of("group.id", group, "group.instance.id", "a"), topic);
        await("a and b hold one partition each, in one generation", List.of(a[0], b),
            () -> a[0].failure == null && a[0].assignment.size() == 1 && b.assignment.size() == 1 && a[0].generation == b.generation);
        out.put("a", a[0].state());
        out.put("b", b.state());
      });
      if (!joined) return;
      int eventsBefore = b.events.size();
      int generationBefore = b.generation;
      Set<TopicPartition> aAssignment = a[0].assignment;
      check("static-rejoin", out -> {
        a[0].close();
        out.put("closed", a[0].state());
        Member again = new Member("member-a-again", Map.of("group.id", group, "group.instance.id", "a"), topic);
        a[0] = again;
        await("a (again) holds a partition", List.of(again, b), () -> again.assignment.size() > 0);
        out.put("again", again.state());
        out.put("sameAssignment", again.assignment.equals(aAssignment));
        out.put("generationBefore", generationBefore);
        out.put("b", b.state());
        out.put("bEventsDuringRejoin", new ArrayList<>(b.events.subList(eventsBefore, b.events.size())));
      });
    } finally {
      if (a[0] != null) a[0].close();
      b.close();
    }
  }

  // ---- d. AdminClient ----------------------------------------------------------------------------

  static <T> T get(org.apache.kafka.common.KafkaFuture<T> f) throws Exception {
    return f.get(DEADLINE_MS, TimeUnit.MILLISECONDS);
  }

  static Map<String, Object> describe(TopicDescription d) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", d.name());
    m.put("internal", d.isInternal());
    m.put("topicId", String.valueOf(d.topicId()));
    List<Map<String, Object>> ps = new ArrayList<>();
    for (TopicPartitionInfo p : d.partitions()) {
      Map<String, Object> pm = new LinkedHashMap<>();
      pm.put("partition", p.partition());
      pm.put("leader", p.leader() == null ? null : p.leader().id());
      pm.put("replicas", p.replicas().stream().map(Node::id).collect(Collectors.toList()));
      pm.put("isr", p.isr().stream().map(Node::id).collect(Collectors.toList()));
      ps.add(pm);
    }
    m.put("partitions", ps);
    return m;
  }

  static Map<String, Object> configs(Admin admin, ConfigResource resource, List<String> names) throws Exception {
    Config config = get(admin.describeConfigs(List.of(resource)).all()).get(resource);
    Map<String, Object> m = new TreeMap<>();
    for (ConfigEntry e : config.entries()) if (names.contains(e.name())) m.put(e.name(), e.value());
    m.put("entries", config.entries().size());
    return m;
  }

  static Map<String, Object> offsets(Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> infos) {
    Map<String, Object> m = new TreeMap<>();
    infos.forEach((tp, info) -> m.put(Integer.toString(tp.partition()), List.of(info.offset(), info.timestamp())));
    return m;
  }

  /**
   * --topic NEW (created here) --timed T (made by the test: partition 0 holds three records, the
   * second with the latest timestamp) --find-ms (a time between the first and the second record's)
   * --after-all-ms (a time after all three) --group G (committed here, then deleted): one check
   * per Admin call.
   */
  static void admin() throws Exception {
    String topic = need("topic");
    String timed = need("timed");
    String group = need("group");
    ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
    List<String> shown = List.of("retention.ms", "cleanup.policy", "segment.bytes");
    try (Admin admin = Admin.create(base())) {
      check("describeCluster", out -> {
        DescribeClusterResult r = admin.describeCluster();
        out.put("clusterId", get(r.clusterId()));
        Node controller = get(r.controller());
        out.put("controller", controller == null ? null : controller.id());
        out.put("nodes", get(r.nodes()).stream().map(n -> List.of(n.id(), n.host(), n.port())).collect(Collectors.toList()));
      });
      check("createTopics", out -> {
        get(admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1).configs(Map.of("retention.ms", "86400000")))).all());
      });
      check("describeTopics", out -> {
        out.put("topic", describe(get(admin.describeTopics(List.of(topic)).allTopicNames()).get(topic)));
      });
      check("describeConfigs", out -> out.put("configs", configs(admin, resource, shown)));
      check("incrementalAlterConfigs", out -> {
        get(admin.incrementalAlterConfigs(Map.of(resource, List.of(new AlterConfigOp(new ConfigEntry("retention.ms", "3600000"), AlterConfigOp.OpType.SET)))).all());
        out.put("configs", configs(admin, resource, shown));
      });
      check("createPartitions", out -> {
        get(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(4))).all());
        out.put("partitions", get(admin.describeTopics(List.of(topic)).allTopicNames()).get(topic).partitions().size());
      });
      TopicPartition tp = new TopicPartition(timed, 0);
      Map<String, OffsetSpec> specs = new LinkedHashMap<>();
      specs.put("earliest", OffsetSpec.earliest());
      specs.put("latest", OffsetSpec.latest());
      specs.put("forTimestamp", OffsetSpec.forTimestamp(Long.parseLong(need("find-ms"))));
      specs.put("forTimestampAfterAll", OffsetSpec.forTimestamp(Long.parseLong(need("after-all-ms"))));
      specs.put("maxTimestamp", OffsetSpec.maxTimestamp());
      for (Map.Entry<String, OffsetSpec> spec : specs.entrySet()) {
        check("listOffsets", out -> {
          out.put("spec", spec.getKey());
          out.put("offsets", offsets(get(admin.listOffsets(Map.of(tp, spec.getValue())).all())));
        });
      }
      check("commitOffsets", out -> {
        // A consumer that commits without subscribing (assign + commitSync): the group's offsets, no members.
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(Map.of("group.id", group))) {
          consumer.assign(List.of(tp));
          consumer.commitSync(Map.of(tp, new OffsetAndMetadata(2, "from the admin scenario")), Duration.ofMillis(DEADLINE_MS));
        }
      });
      check("listConsumerGroupOffsets", out -> {
        Map<String, Object> m = new TreeMap<>();
        get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata())
            .forEach((p, om) -> m.put(p.topic() + ":" + p.partition(), List.of(om.offset(), om.metadata())));
        out.put("offsets", m);
      });
      check("deleteConsumerGroups", out -> {
        get(admin.deleteConsumerGroups(List.of(group)).all());
        Map<String, Object> m = new TreeMap<>();
        get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata())
            .forEach((p, om) -> m.put(p.topic() + ":" + p.partition(), om == null ? null : om.offset()));
        out.put("offsetsAfter", m);
      });
      check("deleteRecords", out -> {
        var deleted = admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(1)));
        out.put("lowWatermark", get(deleted.lowWatermarks().get(tp)).lowWatermark());
        out.put("earliestAfter", offsets(get(admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).all())));
      });
    }
  }
}
