package dkv.cli;

import dkv.platform.broker.EmbeddedKafkaBroker;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Runs the embedded single-node KRaft broker with the dkv topics until interrupted. */
@Command(name = "broker", mixinStandardHelpOptions = true,
        description = "Start an embedded single-node KRaft broker (loopback), create the dkv topics and print its bootstrap address; Ctrl-C stops it.")
public final class BrokerCommand implements Callable<Integer> {

    @Option(names = "--port", paramLabel = "N", defaultValue = "0", description = "client port (default: a free one)")
    int port;

    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "keep the broker's data here across restarts (default: a temporary directory, deleted on exit)")
    Path dataDir;

    @Option(names = "--partitions", paramLabel = "N", defaultValue = "24",
            description = "partitions of dkv.work and dkv.scores (default: ${DEFAULT-VALUE})")
    int partitions;

    @Override
    public Integer call() throws InterruptedException {
        if (partitions < 1) {
            throw new IllegalArgumentException("--partitions must be at least 1, got " + partitions);
        }
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(EmbeddedKafkaBroker.Options.defaults()
                .withPort(port).withDataDir(dataDir));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("dkv-broker-stop").unstarted(() -> {
            broker.close();
            stopped.countDown();
        }));
        broker.createDkvTopics(partitions);
        System.out.println("bootstrap=" + broker.bootstrapServers());
        System.out.flush();
        stopped.await();
        return 0;
    }
}
