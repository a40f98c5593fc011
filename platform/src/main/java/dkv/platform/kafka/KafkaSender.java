package dkv.platform.kafka;

import dkv.platform.config.KafkaSettings;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.Serializer;
import org.reactivestreams.Publisher;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * A Kafka producer behind {@link Mono}/{@link Flux}: each send completes when the broker acknowledges it,
 * and a stream of sends keeps at most {@code maxInFlight} unacknowledged records, so a fast upstream
 * waits for the broker instead of filling memory. Idempotent ({@code acks=all}) by default.
 */
public final class KafkaSender<K, V> implements AutoCloseable {

    /** A record to send and a value that comes back with its result (e.g. the source record to ack). */
    public record Outgoing<K, V, T>(ProducerRecord<K, V> record, T correlation) {}

    public record Sent<T>(RecordMetadata metadata, T correlation) {}

    private final Producer<K, V> producer;
    private final int maxInFlight;

    private KafkaSender(Producer<K, V> producer, int maxInFlight) {
        if (maxInFlight < 1) {
            throw new IllegalArgumentException("max in-flight sends must be at least 1, got " + maxInFlight);
        }
        this.producer = producer;
        this.maxInFlight = maxInFlight;
    }

    public static <K, V> KafkaSender<K, V> create(KafkaSettings settings, String clientSuffix, Serializer<K> keySerializer,
            Serializer<V> valueSerializer, int maxInFlight, Map<String, Object> producerOverrides) {
        Map<String, Object> overrides = new HashMap<>();
        overrides.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        overrides.put(ProducerConfig.ACKS_CONFIG, "all");
        overrides.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        overrides.putAll(producerOverrides);
        return new KafkaSender<>(new KafkaProducer<>(settings.producer(clientSuffix, overrides), keySerializer, valueSerializer), maxInFlight);
    }

    public static <K, V> KafkaSender<K, V> create(KafkaSettings settings, String clientSuffix, Serializer<K> keySerializer,
            Serializer<V> valueSerializer) {
        return create(settings, clientSuffix, keySerializer, valueSerializer, 1024, Map.of());
    }

    public int maxInFlight() {
        return maxInFlight;
    }

    /** Sends one record when subscribed; completes with its metadata once the broker acknowledged it. */
    public Mono<RecordMetadata> send(ProducerRecord<K, V> record) {
        return Mono.create(sink -> {
            try {
                producer.send(record, (metadata, error) -> {
                    if (error != null) {
                        sink.error(error);
                    } else {
                        sink.success(metadata);
                    }
                });
            } catch (RuntimeException e) {
                sink.error(e); // serialization or configuration failures surface synchronously
            }
        });
    }

    /**
     * Sends every record, at most {@code maxInFlight} unacknowledged at any time, results in completion
     * order. The first failed send ends the stream with its error.
     */
    public <T> Flux<Sent<T>> send(Publisher<Outgoing<K, V, T>> records) {
        return Flux.from(records)
                .flatMap(out -> send(out.record()).map(metadata -> new Sent<>(metadata, out.correlation())),
                        maxInFlight, maxInFlight);
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(30));
    }
}
