package dkv.scorers.torch;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds a libtorch on disk: an explicit directory, else {@code PYTORCH_LIBRARY_PATH}, else the CPU build
 * that DJL ships on Maven Central ({@code ai.djl.pytorch:pytorch-native-cpu}) extracted from the classpath
 * into DJL's cache ({@code $DJL_CACHE_DIR} or {@code ~/.djl.ai}, under {@code pytorch/<version>-cpu-<classifier>}).
 * Nothing is downloaded.
 */
public final class LibtorchLocator {

    /** A located libtorch: its directory, the version it declares, and whether it has the CUDA libraries. */
    public record Installation(Path libDir, String version, boolean cuda) {
    }

    /** The DJL native jar's description of itself. */
    private static final String DJL_PROPERTIES = "native/lib/pytorch.properties";

    private LibtorchLocator() {
    }

    /** Locates libtorch; {@code explicitDir} wins over {@code PYTORCH_LIBRARY_PATH}, which wins over DJL's jar. */
    public static Installation locate(Optional<Path> explicitDir) {
        if (explicitDir.isPresent()) {
            return inspect(explicitDir.get(), "--libtorch");
        }
        String env = System.getenv("PYTORCH_LIBRARY_PATH");
        if (env != null && !env.isBlank()) {
            return inspect(Path.of(env.trim()), "PYTORCH_LIBRARY_PATH");
        }
        return extractFromClasspath();
    }

    /** Checks that {@code dir} holds a libtorch and reads its version. */
    static Installation inspect(Path dir, String source) {
        Path d = dir.toAbsolutePath().normalize();
        for (String lib : List.of("libc10.so", "libtorch_cpu.so", "libtorch.so")) {
            if (!Files.isRegularFile(d.resolve(lib))) {
                throw new TorchException(source + " " + d + ": no " + lib + " there (expected a libtorch lib"
                        + " directory, e.g. a pip wheel's site-packages/torch/lib)");
            }
        }
        boolean cuda = Files.isRegularFile(d.resolve("libtorch_cuda.so")) && Files.isRegularFile(d.resolve("libc10_cuda.so"));
        return new Installation(d, readVersion(d), cuda);
    }

    /** pip wheels: {@code ../version.py}; libtorch zips: {@code ../build-version}; DJL: {@code pytorch.properties}. */
    static String readVersion(Path libDir) {
        try {
            Path versionPy = libDir.resolveSibling("version.py");
            if (Files.isRegularFile(versionPy)) {
                Matcher m = Pattern.compile("__version__\\s*=\\s*['\"]([^'\"]+)['\"]").matcher(Files.readString(versionPy));
                if (m.find()) {
                    return m.group(1);
                }
            }
            for (Path p : List.of(libDir.resolveSibling("build-version"), libDir.resolve("build-version"))) {
                if (Files.isRegularFile(p)) {
                    return Files.readString(p).strip();
                }
            }
            Path props = libDir.resolve("pytorch.properties");
            if (Files.isRegularFile(props)) {
                Properties p = new Properties();
                try (InputStream in = Files.newInputStream(props)) {
                    p.load(in);
                }
                return p.getProperty("version", "unknown") + "-" + p.getProperty("flavor", "");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading the libtorch version in " + libDir, e);
        }
        return "unknown";
    }

    private static Installation extractFromClasspath() {
        ClassLoader loader = LibtorchLocator.class.getClassLoader();
        Properties props = new Properties();
        try (InputStream in = loader.getResourceAsStream(DJL_PROPERTIES)) {
            if (in == null) {
                throw new TorchException("no libtorch found: set PYTORCH_LIBRARY_PATH (or --libtorch) to a torch/lib"
                        + " directory, or put ai.djl.pytorch:pytorch-native-cpu on the classpath");
            }
            props.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + DJL_PROPERTIES + " from the classpath", e);
        }
        String version = props.getProperty("version", "").replaceFirst("-\\d{8}$", "");
        String flavor = props.getProperty("flavor", "cpu");
        String classifier = props.getProperty("classifier", "linux-x86_64");
        String libraries = props.getProperty("libraries", "");
        if (version.isEmpty() || libraries.isEmpty()) {
            throw new TorchException(DJL_PROPERTIES + " on the classpath lacks version/libraries: " + props);
        }
        Path dir = cacheRoot().resolve("pytorch").resolve(version + "-" + flavor + "-" + classifier);
        List<String> libs = new ArrayList<>(List.of(libraries.split(",")));
        libs.replaceAll(String::trim);
        if (!libs.stream().allMatch(l -> Files.isRegularFile(dir.resolve(l)))) {
            extract(loader, "pytorch/" + flavor + "/" + classifier + "/", libs, dir, props);
        }
        return new Installation(dir, version + "-" + flavor, false);
    }

    private static Path cacheRoot() {
        String env = System.getenv("DJL_CACHE_DIR");
        if (env != null && !env.isBlank()) {
            return Path.of(env.trim());
        }
        return Path.of(System.getProperty("user.home"), ".djl.ai");
    }

    /** Extracts into a temporary sibling directory and renames it into place, so a crash leaves no half-copy. */
    private static void extract(ClassLoader loader, String prefix, List<String> libs, Path dir, Properties props) {
        try {
            Files.createDirectories(dir.getParent());
            Path tmp = Files.createTempDirectory(dir.getParent(), dir.getFileName() + ".tmp");
            for (String lib : libs) {
                try (InputStream in = loader.getResourceAsStream(prefix + lib)) {
                    if (in == null) {
                        throw new TorchException("the pytorch-native jar on the classpath lacks " + prefix + lib);
                    }
                    Files.copy(in, tmp.resolve(lib), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            try (var out = Files.newOutputStream(tmp.resolve("pytorch.properties"))) {
                props.store(out, "extracted by dkv from " + DJL_PROPERTIES);
            }
            try {
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException | java.nio.file.FileAlreadyExistsException
                     | java.nio.file.DirectoryNotEmptyException e) {
                // another process won the race (or a partial dir exists): keep theirs when complete
                if (!libs.stream().allMatch(l -> Files.isRegularFile(dir.resolve(l)))) {
                    throw new TorchException("cannot extract libtorch into " + dir + ": it exists but is incomplete;"
                            + " delete it and retry", e);
                }
                deleteTree(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("extracting libtorch into " + dir, e);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (var paths = Files.walk(root)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
