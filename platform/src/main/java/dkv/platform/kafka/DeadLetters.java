package dkv.platform.kafka;

import dkv.avro.DeadLetter;
import dkv.schemas.AvroSerde;
import java.nio.ByteBuffer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;

/** Turns a record that could not be processed into a {@link DeadLetter} on the dead-letter topic. */
final class DeadLetters {
    private static final AvroSerde<DeadLetter> SERDE = AvroSerde.of(DeadLetter.class);

    private final String topic;
    private final String worker;

    DeadLetters(String topic, String worker) {
        this.topic = topic;
        this.worker = worker;
    }

    ProducerRecord<byte[], byte[]> of(ConsumerRecord<byte[], byte[]> source, String stage, Throwable error) {
        DeadLetter letter = DeadLetter.newBuilder()
                .setSourceTopic(source.topic())
                .setSourcePartition(source.partition())
                .setSourceOffset(source.offset())
                .setKey(source.key() == null ? null : ByteBuffer.wrap(source.key()))
                .setValue(source.value() == null ? null : ByteBuffer.wrap(source.value()))
                .setStage(stage)
                .setError(error.getClass().getName())
                .setMessage(String.valueOf(error.getMessage()))
                .setWorker(worker)
                .setFailedAt(System.currentTimeMillis())
                .build();
        return new ProducerRecord<>(topic, null, source.key(), SERDE.encode(letter), new RecordHeaders(source.headers().toArray()));
    }

    static DeadLetter decode(byte[] value) {
        return SERDE.decode(value);
    }
}
