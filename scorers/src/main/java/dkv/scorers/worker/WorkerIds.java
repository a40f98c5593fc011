package dkv.scorers.worker;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** Default worker ids: role, host name and an index, the same after a restart on the same host. */
public final class WorkerIds {
    private WorkerIds() {}

    public static String of(String host, int index) {
        return of("scorer", host, index);
    }

    /** {@code role-host-index}, e.g. {@code generator-gpu3-0}. */
    public static String of(String role, String host, int index) {
        if (index < 0) {
            throw new IllegalArgumentException("worker index must be >= 0, got " + index);
        }
        return role + "-" + host + "-" + index;
    }

    /** {@link #of} with this machine's host name ({@code HOSTNAME}, else the resolver's, else "localhost"). */
    public static String local(int index) {
        return local("scorer", index);
    }

    /** A {@code role}'s worker id on this machine. */
    public static String local(String role, int index) {
        return of(role, hostName(), index);
    }

    static String hostName() {
        String env = System.getenv("HOSTNAME");
        if (env != null && !env.isBlank()) {
            return env.strip();
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }
}
