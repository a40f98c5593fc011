package dkv.scorers.torch;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The op checks against a second libtorch version (a process holds one libtorch, so in a child JVM).
 * Runs when {@code DKV_SECOND_LIBTORCH} (env) or {@code dkv.secondLibtorch} (system property) names a
 * torch/lib directory, e.g. {@code /opt/refvenv/lib/python3.11/site-packages/torch/lib} (torch 2.13 CPU);
 * skipped otherwise.
 */
class SecondLibtorchTest {

    static Path secondLibtorch() {
        String dir = System.getProperty("dkv.secondLibtorch", System.getenv("DKV_SECOND_LIBTORCH"));
        return dir == null || dir.isBlank() ? null : Path.of(dir);
    }

    static boolean configured() {
        return secondLibtorch() != null;
    }

    @Test
    @EnabledIf("configured")
    void opChecksPassAgainstTheSecondLibtorch() throws IOException, InterruptedException {
        Path lib = secondLibtorch();
        assertTrue(Files.isDirectory(lib), "DKV_SECOND_LIBTORCH=" + lib + " is not a directory");
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), "dkv.scorers.torch.check.OpChecks",
                "--libtorch", lib.toString(), "--threads", "1", "--dtype", "float32,bfloat16");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "child JVM timed out");
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("0 failed, 0 tensor handles leaked"), out);
        assertTrue(out.contains("from " + lib), out);
    }
}
