package dkv.platform.kafka;

import java.util.List;
import org.apache.kafka.clients.producer.ProducerRecord;

/** What processing one input record gave: output records, or a failure that becomes a dead letter. */
public sealed interface Outcome<OK, OV> {

    record Produced<OK, OV>(List<ProducerRecord<OK, OV>> records) implements Outcome<OK, OV> {
        public Produced {
            records = List.copyOf(records);
        }
    }

    record Failed<OK, OV>(Throwable error) implements Outcome<OK, OV> {}

    static <OK, OV> Outcome<OK, OV> produced(List<ProducerRecord<OK, OV>> records) {
        return new Produced<>(records);
    }

    static <OK, OV> Outcome<OK, OV> failed(Throwable error) {
        return new Failed<>(error);
    }
}
