package dkv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code .mvn/find-jdk25.sh}, which ./mvnw (to say what to install) and ./dkv (to run the CLI) source: which
 * directories count as a JDK 25 and which one wins. Fake JDKs under a fake HOME; the machine's own JDKs may
 * follow in the search order but never come first here.
 */
class FindJdk25ScriptTest {
    static final Path SCRIPT = Path.of("..", ".mvn", "find-jdk25.sh").toAbsolutePath().normalize();

    @TempDir
    Path home;

    @Test
    void aJdk25IsRecognisedByItsReleaseFileOrElseByJavaVersion() throws Exception {
        assertEquals("yes", is(fakeJdk("jdk-25.0.1", "25.0.1", null)));
        assertEquals("yes", is(fakeJdk("jdk-25", "25", null)));
        assertEquals("yes", is(fakeJdk("no-release-25", null, "openjdk version \"25.0.2\" 2026-01-20 LTS")));
        assertEquals("no", is(fakeJdk("jdk-17", "17.0.15", null)));
        assertEquals("no", is(fakeJdk("jdk-250", "250.1", null)));
        assertEquals("no", is(fakeJdk("no-release-17", null, "openjdk version \"17.0.15\" 2025-04-15")));
        assertEquals("no", is(home.resolve("missing")));
    }

    @Test
    void javaHomeThenJava25HomeThenTheVersionManagersFoldersComeFirst() throws Exception {
        Path managed = fakeJdk(".jdks/temurin-25.0.1", "25.0.1", null);
        assertEquals(managed.toString(), find(Map.of()));
        Path java25Home = fakeJdk("elsewhere/jdk25", "25.0.3", null);
        assertEquals(java25Home.toString(), find(Map.of("JAVA25_HOME", java25Home.toString())));
        Path java17 = fakeJdk("elsewhere/jdk17", "17.0.15", null);
        assertEquals(java25Home.toString(), find(Map.of("JAVA_HOME", java17.toString(), "JAVA25_HOME", java25Home.toString())),
                "a JAVA_HOME that is not a 25 is passed over");
        Path javaHome25 = fakeJdk("elsewhere/home25", "25.0.2", null);
        assertEquals(javaHome25.toString(), find(Map.of("JAVA_HOME", javaHome25.toString(), "JAVA25_HOME", java25Home.toString())));
    }

    /** A directory with bin/java (printing {@code versionLine} like java -version) and, where given, a release file. */
    private Path fakeJdk(String name, String releaseVersion, String versionLine) throws IOException {
        Path jdk = home.resolve(name);
        Path java = jdk.resolve("bin").resolve("java");
        Files.createDirectories(java.getParent());
        Files.writeString(java, "#!/bin/sh\necho '" + (versionLine == null ? "" : versionLine) + "' >&2\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        if (releaseVersion != null) {
            Files.writeString(jdk.resolve("release"), "IMPLEMENTOR=\"test\"\nJAVA_VERSION=\"" + releaseVersion + "\"\n");
        }
        return jdk;
    }

    private String is(Path jdk) throws Exception {
        return run("if jdk25_is \"$JDK\"; then echo yes; else echo no; fi", Map.of("JDK", jdk.toString()));
    }

    private String find(Map<String, String> env) throws Exception {
        return run("find_jdk25", env);
    }

    /**
     * Runs {@code command} in sh -euf (as ./mvnw does) after sourcing the script, with only HOME, {@code env} and a
     * PATH of the tools the script uses: no {@code java} on it, whatever this machine's default JDK is.
     */
    private String run(String command, Map<String, String> env) throws Exception {
        Path tools = home.resolve("tools");
        if (!Files.isDirectory(tools)) {
            Files.createDirectories(tools);
            for (String tool : List.of("grep", "sed", "env", "dirname", "readlink")) {
                Path found = Stream.of("/usr/bin", "/bin").map(dir -> Path.of(dir, tool)).filter(Files::isExecutable)
                        .findFirst().orElseThrow(() -> new IllegalStateException("no " + tool + " in /usr/bin or /bin"));
                Files.createSymbolicLink(tools.resolve(tool), found);
            }
        }
        ProcessBuilder builder = new ProcessBuilder("sh", "-c", "set -euf; . \"$SCRIPT\"; " + command);
        builder.environment().clear();
        builder.environment().put("HOME", home.toString());
        builder.environment().put("PATH", tools.toString());
        builder.environment().put("SCRIPT", SCRIPT.toString());
        builder.environment().putAll(env);
        Process process = builder.redirectErrorStream(true).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        process.waitFor();
        return out;
    }
}
