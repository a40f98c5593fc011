package dkv.cli;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where the bundled demo (model/, samples.jsonl, plan.json) is: ./demo, else the demo/ of the checkout dkv runs from. */
final class DemoFiles {
    private DemoFiles() {}

    static Path defaultDir() {
        Path local = Path.of("demo");
        if (Files.isDirectory(local)) {
            return local;
        }
        try {
            // cli/target/classes or cli/target/dkv-cli-*.jar: the checkout is three levels up
            Path code = Path.of(DemoFiles.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path checkout = code.getParent() == null ? null : code.getParent().getParent();
            checkout = checkout == null ? null : checkout.getParent();
            if (checkout != null && Files.isDirectory(checkout.resolve("demo"))) {
                return checkout.resolve("demo");
            }
        } catch (URISyntaxException | SecurityException e) {
            // fall through: the caller names the missing ./demo
        }
        return local;
    }
}
