package dev.tollgate.journal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JournalHealthTest {
    @TempDir
    Path directory;

    @Test
    void aFailedAppendRefusesForAWhileThenLetsARequestTryAgain() throws InterruptedException {
        JournalHealth health = new JournalHealth(directory);
        health.requireFreeBytes(0);
        assertThat(health.acceptingRecords()).isTrue();
        health.appendFailed();
        assertThat(health.whyNot()).isEqualTo("the last journal append failed");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!health.acceptingRecords()) {
            assertThat(System.nanoTime()).as("it lets a request through again by itself").isLessThan(deadline);
            Thread.sleep(10);
        }
        health.appendFailed();
        health.appendSucceeded(); // an append got through: healthy at once
        assertThat(health.acceptingRecords()).isTrue();
    }

    @Test
    void tooLittleFreeSpaceRefusesUntilTheRequirementIsMet() {
        JournalHealth health = new JournalHealth(directory);
        health.requireFreeBytes(Long.MAX_VALUE);
        assertThat(health.whyNot()).contains("bytes free, below the");
        health.requireFreeBytes(1);
        assertThat(health.acceptingRecords()).isTrue();
        assertThat(new JournalHealth(directory.resolve("missing")).whyNot()).as("a directory that cannot be asked").isNotNull();
    }
}
