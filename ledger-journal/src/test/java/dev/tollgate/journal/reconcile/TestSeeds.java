package dev.tollgate.journal.reconcile;

/** The seed of the randomized tests here: printed, and replayed with {@code -Dtollgate.seed=N}. */
final class TestSeeds {
    static final long DEFAULT_SEED = 20261127L;

    private TestSeeds() {
    }

    static long seed(String testName) {
        long seed = Long.getLong("tollgate.seed", DEFAULT_SEED);
        System.out.println(testName + ": seed " + seed + " (replay with -Dtollgate.seed=" + seed + ")");
        return seed;
    }
}
