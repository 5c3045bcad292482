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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class JournalWriterTest {
    @TempDir
    Path directory;

    @Test
    void onlyPerDebitDurabilityGetsAWriterThreadOfItsOwn() throws Exception {
        for (Durability durability : Durability.values()) {
            try (Journal journal = Journal.open(directory.resolve(durability.name()), durability, 100)) {
                JournalWriter writer = new JournalWriter(journal);
                assertThat(writer.ownThread()).as(durability.name()).isEqualTo(durability == Durability.PER_DEBIT);
                writer.close();
            }
        }
    }

    @Test
    void onTheCallersThreadARecordIsInTheJournalAndAcknowledgedBeforeSubmitReturns() throws Exception {
        try (Journal journal = Journal.open(directory, Durability.PERIODIC, 100)) {
            JournalWriter writer = new JournalWriter(journal);
            Thread caller = Thread.currentThread();
            List<Thread> acknowledgedOn = new ArrayList<>();
            writer.submit(new AccountOpened(1, "acme"), failure -> {
                assertThat(failure).isNull();
                acknowledgedOn.add(Thread.currentThread());
            });
            assertThat(acknowledgedOn).containsExactly(caller);
            assertThat(journal.lastIndex()).isNotNegative();
            assertThat(writer.queued()).isZero();
            writer.close();
        }
    }

    @ParameterizedTest(name = "own thread: {0}")
    @ValueSource(booleans = {true, false})
    void keepsEachProducersOrderAndAcknowledgesEveryRecordOnceWritten(boolean ownThread) throws Exception {
        int producers = 4;
        int perProducer = 5_000;
        try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
            JournalWriter writer = new JournalWriter(journal, ownThread);
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

    @ParameterizedTest(name = "own thread: {0}")
    @ValueSource(booleans = {true, false})
    void aRecordThatCannotBeWrittenIsReportedToItsProducer(boolean ownThread) throws Exception {
        try (Journal journal = Journal.open(directory, Durability.PER_DEBIT, 100)) {
            JournalWriter writer = new JournalWriter(journal, ownThread);
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
            writer.append(new CreditAdded(2, "acme", 10, "good")); // waits (on its own thread, per-debit forces it to disk first)
            List<JournalEvent> read = new ArrayList<>();
            journal.readAfter(-1, (index, event) -> read.add(event));
            assertThat(read).extracting(JournalEvent::type).containsExactly(EventType.ACCOUNT_OPENED, EventType.CREDIT_ADDED);
            writer.close();
        }
    }

    @Test
    void aLoopThatWakesTheWriterOncePerTurnLosesNoRecord() throws Exception {
        int turns = 200;
        int perTurn = 50;
        ExecutorService loop = Executors.newSingleThreadExecutor();
        try (Journal journal = Journal.open(directory, Durability.PER_DEBIT, 100)) {
            // Parked unwoken for a minute: a lost wake-up would outlast the wait below.
            JournalWriter writer = new JournalWriter(journal, true, TimeUnit.MINUTES.toNanos(1));
            loop.execute(() -> writer.wakeOncePerTurnOf(loop));
            AtomicInteger acknowledged = new AtomicInteger();
            CountDownLatch all = new CountDownLatch(turns * perTurn);
            for (int turn = 0; turn < turns; turn++) {
                int first = turn * perTurn;
                loop.execute(() -> {
                    for (int i = first; i < first + perTurn; i++) {
                        writer.submit(new AccountOpened(1, "a" + i), failure -> {
                            if (failure == null) {
                                acknowledged.incrementAndGet();
                            }
                            all.countDown();
                        });
                    }
                });
                if (turn % 20 == 0) {
                    Thread.sleep(2); // lets the writer park between some turns, so that wake-ups are needed
                }
            }
            assertThat(all.await(20, TimeUnit.SECONDS)).as("every record acknowledged, each wake-up delivered").isTrue();
            assertThat(acknowledged.get()).isEqualTo(turns * perTurn);
            long[] count = {0};
            journal.readAfter(-1, (index, event) -> count[0]++);
            assertThat(count[0]).isEqualTo(turns * perTurn);
            writer.close();
        } finally {
            loop.shutdownNow();
        }
    }

    @Test
    void aCallerThatBlocksOnItsLoopWakesTheWriterAtOnce() throws Exception {
        ExecutorService loop = Executors.newSingleThreadExecutor();
        try (Journal journal = Journal.open(directory, Durability.PER_DEBIT, 100)) {
            JournalWriter writer = new JournalWriter(journal, true, TimeUnit.MINUTES.toNanos(1));
            loop.submit(() -> writer.wakeOncePerTurnOf(loop)).get();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!writer.parked()) { // the writer parks: only then does a wake-up matter
                assertThat(System.nanoTime()).as("the idle writer parks").isLessThan(deadline);
                Thread.onSpinWait();
            }
            // Blocking inside the loop's turn: the wake-up deferred to the turn's end would never come.
            loop.submit(() -> writer.append(new AccountOpened(1, "acme"))).get(20, TimeUnit.SECONDS);
            long[] count = {0};
            journal.readAfter(-1, (index, event) -> count[0]++);
            assertThat(count[0]).isEqualTo(1);
            writer.close();
        } finally {
            loop.shutdownNow();
        }
    }

    @Test
    void anAcknowledgementThatThrowsOnTheCallersThreadLeavesTheRecordWritten() throws Exception {
        try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
            JournalWriter writer = new JournalWriter(journal, false);
            writer.submit(new AccountOpened(1, "acme"), failure -> {
                throw new java.util.concurrent.RejectedExecutionException("event loop shut down");
            });
            long[] count = {0};
            journal.readAfter(-1, (index, event) -> count[0]++);
            assertThat(count[0]).isEqualTo(1);
            writer.close();
        }
    }

    @Test
    void closingWritesWhatIsStillQueued() throws Exception {
        try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
            JournalWriter writer = new JournalWriter(journal, true);
            for (int i = 0; i < 10_000; i++) {
                writer.submit(new AccountOpened(1, "a" + i), null);
            }
            writer.close();
            long[] count = {0};
            journal.readAfter(-1, (index, event) -> count[0]++);
            assertThat(count[0]).isEqualTo(10_000);
        }
    }

    @Test
    void aRecordSubmittedAfterTheWriterThreadDiedIsRefusedNotLost() throws Exception {
        try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
            JournalWriter writer = new JournalWriter(journal, true);
            // An Error escaping an acknowledgement is the one thing that can end the writer's thread.
            writer.submit(new AccountOpened(1, "first"), failure -> {
                throw new AssertionError("a broken acknowledgement");
            });
            writer.wakeNow();
            java.util.List<java.util.concurrent.CompletableFuture<RuntimeException>> queuedMeanwhile = new java.util.ArrayList<>();
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
            IllegalStateException refused = null;
            while (refused == null) {
                assertThat(System.nanoTime()).as("the writer refuses records once its thread died").isLessThan(deadline);
                java.util.concurrent.CompletableFuture<RuntimeException> told = new java.util.concurrent.CompletableFuture<>();
                try {
                    writer.submit(new AccountOpened(2, "later"), told::complete);
                    queuedMeanwhile.add(told);
                    writer.wakeNow();
                } catch (IllegalStateException e) {
                    refused = e;
                }
            }
            assertThat(refused).hasMessageContaining("closed");
            for (var told : queuedMeanwhile) {
                // Each producer hears back: written before the thread died, or told it was not. None waits for ever.
                told.get(30, java.util.concurrent.TimeUnit.SECONDS);
            }
            writer.close();
        }
    }
}
