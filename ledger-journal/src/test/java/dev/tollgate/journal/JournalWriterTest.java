package dev.tollgate.journal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.Durability;
import dev.tollgate.journal.JournalEvent.AccountOpened;
import dev.tollgate.journal.JournalEvent.CreditAdded;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JournalWriterTest {
    @TempDir
    Path directory;

    @Test
    void keepsEachProducersOrderAndAcknowledgesEveryRecordOnceWritten() throws Exception {
        int producers = 4;
        int perProducer = 5_000;
        try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
            JournalWriter writer = new JournalWriter(journal);
            ConcurrentLinkedQueue<RuntimeException> failures = new ConcurrentLinkedQueue<>();
            CountDownLatch acknowledged = new CountDownLatch(producers * perProducer);
            List<Thread> threads = new ArrayList<>();
            for (int p = 0; p < producers; p++) {
                String account = "producer-" + p;
                threads.add(Thread.ofPlatform().start(() -> {
                    writer.submit(new AccountOpened(1, account), null);
                    for (int i = 1; i < perProducer; i++) {
                        // the amount is the producer's sequence, so order can be checked on the way back
                        writer.submit(new CreditAdded(1, account, i, "k" + i), failure -> {
                            if (failure != null) {
                                failures.add(failure);
                            }
                            acknowledged.countDown();
                        });
                    }
                    acknowledged.countDown();
                }));
            }
            for (Thread thread : threads) {
                thread.join();
            }
            writer.awaitWritten();
            acknowledged.await();
            assertThat(failures).isEmpty();
            assertThat(writer.queued()).isZero();
            Map<String, Long> lastAmount = new HashMap<>();
            List<JournalEvent> read = new ArrayList<>();
            journal.readAfter(-1, (index, event) -> {
                read.add(event);
                if (event instanceof CreditAdded credit) {
                    long previous = lastAmount.getOrDefault(credit.accountId(), 0L);
                    assertThat(credit.amountMicros()).as("in the order its producer submitted it").isEqualTo(previous + 1);
                    lastAmount.put(credit.accountId(), credit.amountMicros());
                }
            });
            assertThat(read).hasSize(producers * perProducer);
            writer.close();
        }
    }

    @Test
    void aRecordThatCannotBeWrittenIsReportedToItsProducer() throws Exception {
        try (Journal journal = Journal.open(directory, Durability.PER_DEBIT, 100)) {
            JournalWriter writer = new JournalWriter(journal);
            ConcurrentLinkedQueue<RuntimeException> failures = new ConcurrentLinkedQueue<>();
            CountDownLatch done = new CountDownLatch(2);
            writer.submit(new CreditAdded(1, "acme", -5, "bad"), failure -> {
                failures.add(failure);
                done.countDown();
            });
            writer.submit(new AccountOpened(1, "acme"), failure -> {
                if (failure != null) {
                    failures.add(failure);
                }
                done.countDown();
            });
            done.await();
            assertThat(failures).singleElement().isInstanceOf(JournalFormatException.class);
            writer.append(new CreditAdded(2, "acme", 10, "good")); // waits, and per-debit forces it to disk first
            List<JournalEvent> read = new ArrayList<>();
            journal.readAfter(-1, (index, event) -> read.add(event));
            assertThat(read).extracting(JournalEvent::type).containsExactly(EventType.ACCOUNT_OPENED, EventType.CREDIT_ADDED);
            writer.close();
        }
    }

    @Test
    void closingWritesWhatIsStillQueued() throws Exception {
        try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
            JournalWriter writer = new JournalWriter(journal);
            for (int i = 0; i < 10_000; i++) {
                writer.submit(new AccountOpened(1, "a" + i), null);
            }
            writer.close();
            long[] count = {0};
            journal.readAfter(-1, (index, event) -> count[0]++);
            assertThat(count[0]).isEqualTo(10_000);
        }
    }
}
