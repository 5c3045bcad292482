package dev.tollgate.metering;

/**
 * The one seed of every randomized test: {@code -Dtollgate.seed=N} replays a failure. Each test
 * prints the seed it used, so a red run names the command that reproduces it.
 */
public final class Seeds {
    public static final long DEFAULT_SEED = 20261127L;

    private Seeds() {
    }

    public static long seed(String testName) {
        long seed = Long.getLong("tollgate.seed", DEFAULT_SEED);
        System.out.println(testName + ": seed " + seed + " (replay with -Dtollgate.seed=" + seed + ")");
        return seed;
    }
}
