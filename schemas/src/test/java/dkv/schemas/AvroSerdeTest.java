package dkv.schemas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dkv.avro.Sample;
import dkv.avro.ScoreRecord;
import dkv.schemas.testing.ContractRecords;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

class AvroSerdeTest {

    @Test
    void everyContractTypeSurvivesARoundTrip() {
        List<SpecificRecord> records = ContractRecords.oneOfEach(7);
        Set<Class<?>> covered = new HashSet<>();
        for (SpecificRecord record : records) {
            SpecificRecord back = roundTrip(record);
            assertNotSame(record, back);
            assertEquals(record, back, record.getClass().getSimpleName());
            covered.add(record.getClass());
        }
        assertEquals(Set.copyOf(AvroSerde.contractTypes()), covered, "fixtures cover every contract type");
    }

    @Test
    void encodingIsSingleObjectWithTheCurrentSchemaFingerprint() {
        byte[] bytes = AvroSerde.of(Sample.class).encode(ContractRecords.sample(1));
        assertEquals((byte) 0xC3, bytes[0]);
        assertEquals((byte) 0x01, bytes[1]);
        long fingerprint = org.apache.avro.SchemaNormalization.parsingFingerprint64(Sample.getClassSchema());
        byte[] header = new byte[8];
        for (int i = 0; i < 8; i++) {
            header[i] = (byte) (fingerprint >>> (8 * i)); // little-endian, per the Avro spec
        }
        assertArrayEquals(header, Arrays.copyOfRange(bytes, 2, 10));
    }

    @Test
    void aRecordOfAnotherTypeIsRejectedNamingTheExpectedType() {
        byte[] sampleBytes = AvroSerde.of(Sample.class).encode(ContractRecords.sample(1));
        var error = assertThrows(SerializationException.class,
                () -> AvroSerde.of(ScoreRecord.class).deserialize("dkv.scores", sampleBytes));
        assertTrue(error.getMessage().startsWith("cannot decode ScoreRecord"), error.getMessage());
    }

    @Test
    void garbageIsRejectedAsASerializationException() {
        byte[] garbage = {1, 2, 3, 4};
        assertThrows(SerializationException.class, () -> AvroSerde.of(Sample.class).deserialize("t", garbage));
    }

    @Test
    void nullPassesThroughAsATombstone() {
        AvroSerde<Sample> serde = AvroSerde.of(Sample.class);
        assertNull(serde.serialize("t", null));
        assertNull(serde.deserialize("t", null));
    }

    @SuppressWarnings("unchecked")
    private static <T extends SpecificRecord> T roundTrip(T record) {
        AvroSerde<T> serde = AvroSerde.of((Class<T>) record.getClass());
        return serde.deserialize("topic", serde.serialize("topic", record));
    }
}
