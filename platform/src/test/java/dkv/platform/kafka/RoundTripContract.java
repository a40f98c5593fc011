package dkv.platform.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dkv.platform.config.KafkaSettings;
import dkv.schemas.AvroSerde;
import dkv.schemas.testing.ContractRecords;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;

/**
 * Every contract record type, sent with {@link KafkaSender} and the Avro serdes and received with
 * {@link KafkaReceiver}, comes back equal. Subclasses say which broker: embedded or a container.
 */
abstract class RoundTripContract {
    private static final int PER_TYPE = 3;

    protected abstract String bootstrapServers();

    @Test
    void everyRecordTypeRoundTripsThroughTheBroker() {
        KafkaSettings settings = KafkaSettings.of(bootstrapServers());
        for (Class<? extends SpecificRecord> type : AvroSerde.contractTypes()) {
            roundTrip(settings, type);
        }
    }

    private <T extends SpecificRecord> void roundTrip(KafkaSettings settings, Class<T> type) {
        String topic = "roundtrip-" + type.getSimpleName() + "-" + System.nanoTime();
        try (Admin admin = Admin.create(settings.admin("roundtrip-admin"))) {
            TopicLayout.ensure(admin, List.of(new NewTopic(topic, 2, (short) 1)));
        }
        List<T> sent = IntStream.range(0, PER_TYPE)
                .mapToObj(seed -> type.cast(ContractRecords.oneOfEach(seed).stream().filter(type::isInstance).findFirst().orElseThrow()))
                .toList();
        AvroSerde<T> serde = AvroSerde.of(type);
        try (KafkaSender<String, T> sender = KafkaSender.create(settings, "roundtrip", new StringSerializer(), serde)) {
            List<KafkaSender.Outgoing<String, T, Integer>> outgoing = new ArrayList<>();
            for (int i = 0; i < sent.size(); i++) {
                outgoing.add(new KafkaSender.Outgoing<>(new ProducerRecord<>(topic, "k" + i, sent.get(i)), i));
            }
            assertEquals(PER_TYPE, sender.send(Flux.fromIterable(outgoing)).count().block(Duration.ofSeconds(30)));
        }
        var options = ReceiverOptions.of(settings, topic + "-group", List.of(topic), new StringDeserializer(), serde)
                .withConsumerOverrides(Map.of());
        List<T> received = KafkaReceiver.create(options).receive()
                .doOnNext(ReceivedRecord::ack)
                .take(PER_TYPE)
                .map(ReceivedRecord::value)
                .collectList()
                .block(Duration.ofSeconds(30));
        assertEquals(sortedByString(sent), sortedByString(received), type.getSimpleName());
    }

    private static <T> List<String> sortedByString(List<T> records) {
        return records.stream().map(String::valueOf).sorted().toList();
    }
}
