package dkv.aggregator.bench;

import dkv.aggregator.SyntheticScores;
import dkv.aggregator.service.Aggregator;
import dkv.aggregator.service.PublishCadence;
import dkv.avro.ScoreRecord;
import dkv.avro.StatsSnapshot;
import dkv.schemas.AvroSerde;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Aggregation throughput: decode Avro score records (as they arrive from Kafka), add them to the state and publish
 * snapshots on the default cadence (every 50 000 records or 1 s). Not a test; see aggregator/BENCHMARK.md for the
 * command and results.
 */
public final class AggregationBenchmark {

    public static void main(String[] args) {
        int samples = args.length > 0 ? Integer.parseInt(args[0]) : 40_000;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        AvroSerde<ScoreRecord> serde = AvroSerde.of(ScoreRecord.class);
        List<ScoreRecord> records = new ArrayList<>(SyntheticScores.records("bench", 0, samples, samples, 42));
        Collections.shuffle(records, new Random(1));
        List<byte[]> encoded = records.stream().map(serde::encode).toList();
        System.out.printf(Locale.ROOT, "%d records (%d samples x %d conditions, %d attention layers each), %d bytes avg%n",
                encoded.size(), samples, SyntheticScores.CONDITIONS.size(), SyntheticScores.LAYERS,
                encoded.stream().mapToInt(b -> b.length).sum() / encoded.size());
        for (int round = 0; round < rounds; round++) {
            long start = System.nanoTime();
            long checksum = 0;
            for (byte[] bytes : encoded) {
                checksum += serde.decode(bytes).getSampleId().length();
            }
            double decodeSeconds = (System.nanoTime() - start) / 1e9;

            Aggregator aggregator = new Aggregator(PublishCadence.DEFAULT, 0.05, System::currentTimeMillis);
            long snapshots = 0;
            start = System.nanoTime();
            for (byte[] bytes : encoded) {
                snapshots += aggregator.accept(serde.decode(bytes)).size();
            }
            snapshots += aggregator.publish().size();
            double seconds = (System.nanoTime() - start) / 1e9;

            StatsSnapshot full = aggregator.latest().get("bench");
            long snapshotNanos = timeSnapshot(aggregator, records.getFirst());
            System.out.printf(Locale.ROOT,
                    "round %d: %.0f records/s end to end (%.2f s, %d snapshots published); decode alone %.0f records/s;"
                            + " one snapshot of %d samples %.1f ms [%d %s]%n",
                    round, encoded.size() / seconds, seconds, snapshots, encoded.size() / decodeSeconds, samples,
                    snapshotNanos / 1e6, checksum % 10, full.getConditions().size());
        }
    }

    /** Time of one publication of a changed experiment (the duplicate marks nothing; a fresh record would). */
    private static long timeSnapshot(Aggregator aggregator, ScoreRecord any) {
        ScoreRecord extra = ScoreRecord.newBuilder(any).setSampleId("extra").build();
        aggregator.accept(extra);
        long start = System.nanoTime();
        aggregator.publish();
        return System.nanoTime() - start;
    }
}
