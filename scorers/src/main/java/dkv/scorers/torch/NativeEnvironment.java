package dkv.scorers.torch;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;

/**
 * The process environment as native libraries read it ({@code getenv}), which {@link System#getenv} cannot change:
 * libtorch reads some switches from it on first use, after the JVM has started.
 */
final class NativeEnvironment {

    private NativeEnvironment() {
    }

    /**
     * Sets {@code name} to {@code value} unless the environment already has it (the user's choice wins). libc's
     * {@code setenv} is not safe against a concurrent {@code getenv} in another native thread, so call it before
     * libtorch is loaded (as {@link TorchRuntime} does): the JVM's own threads do not read the environment then.
     */
    static void setIfUnset(String name, String value) {
        Linker linker = Linker.nativeLinker();
        MethodHandle setenv = linker.downcallHandle(linker.defaultLookup().find("setenv")
                        .orElseThrow(() -> new TorchException("libc has no setenv")),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        try (Arena arena = Arena.ofConfined()) {
            int rc = (int) setenv.invokeExact(arena.allocateFrom(name), arena.allocateFrom(value), 0);
            if (rc != 0) throw new TorchException("setenv(" + name + ") failed");
        } catch (TorchException e) {
            throw e;
        } catch (Throwable t) {
            throw new TorchException("setenv(" + name + ") failed: " + t);
        }
    }

    /** The value native code sees, or null. */
    static String get(String name) {
        Linker linker = Linker.nativeLinker();
        MethodHandle getenv = linker.downcallHandle(linker.defaultLookup().find("getenv")
                        .orElseThrow(() -> new TorchException("libc has no getenv")),
                FunctionDescriptor.of(ADDRESS, ADDRESS));
        try (Arena arena = Arena.ofConfined()) {
            java.lang.foreign.MemorySegment p = (java.lang.foreign.MemorySegment) getenv.invokeExact(arena.allocateFrom(name));
            return p.equals(java.lang.foreign.MemorySegment.NULL) ? null : p.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw new TorchException("getenv(" + name + ") failed: " + t);
        }
    }
}
