package dev.tollgate.metering;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Seeded random histories of credit / reserveUpTo / settle / release over a few accounts, each step
 * checked against a plain model of what the counters must be. A failure names the seed and the
 * history index and step, so it replays exactly.
 */
class BalancesModelTest {
    private static final int ACCOUNTS = 3;
    private static final int HISTORIES = 300;
    private static final int STEPS = 400;

    /** The model of one account: five numbers and the reservations that are open against it. */
    private static final class Model {
        long available;
        long reserved;
        long credited;
        long debited;
        long writtenOff;
        final List<Long> open = new ArrayList<>();
    }

    @Test
    void randomHistoriesMatchTheModelAfterEveryStep() {
        long seed = Seeds.seed("BalancesModelTest.randomHistoriesMatchTheModelAfterEveryStep");
        SplittableRandom seeds = new SplittableRandom(seed);
        int settlesAbove = 0;
        int writeOffs = 0;
        for (int history = 0; history < HISTORIES; history++) {
            long historySeed = seeds.nextLong();
            SplittableRandom random = new SplittableRandom(historySeed);
            Balances balances = new Balances(ACCOUNTS);
            Model[] models = new Model[ACCOUNTS];
            for (int i = 0; i < ACCOUNTS; i++) {
                models[i] = new Model();
            }
            for (int step = 0; step < STEPS; step++) {
                String where = "seed " + seed + " history " + history + " (history seed " + historySeed + ") step " + step;
                int slot = random.nextInt(ACCOUNTS);
                Model m = models[slot];
                int op = random.nextInt(10);
                String did;
                if (op == 0 || m.credited == 0) {
                    long amount = random.nextInt(4) == 0 ? 0 : random.nextLong(1, 5_000);
                    balances.credit(slot, amount);
                    m.credited += amount;
                    m.available += amount;
                    did = "credit " + amount;
                } else if (op <= 4 || m.open.isEmpty()) {
                    long min = random.nextInt(5) == 0 ? 0 : random.nextLong(0, 2_000);
                    long max = min + (random.nextBoolean() ? 0 : random.nextLong(0, 3_000));
                    long expected = m.available < min ? -1 : Math.min(m.available, max);
                    long got = balances.reserveUpTo(slot, min, max);
                    assertThat(got).as(where + ": reserveUpTo(" + min + ", " + max + ") with " + m.available + " available").isEqualTo(expected);
                    if (got >= 0) {
                        assertThat(got).isBetween(min, max);
                        m.available -= got;
                        m.reserved += got;
                        m.open.add(got);
                    }
                    did = "reserveUpTo " + min + ".." + max + " -> " + got;
                } else if (op <= 8) {
                    long held = m.open.remove(random.nextInt(m.open.size()));
                    long cost = switch (random.nextInt(4)) {
                        case 0 -> held;                                        // exactly the reservation
                        case 1 -> held == 0 ? 0 : random.nextLong(0, held);     // below it
                        case 2 -> held + random.nextLong(1, 200);               // a little above: usually covered
                        default -> held + random.nextLong(1, 20_000);           // far above: often written off
                    };
                    long excess = Math.max(0, cost - held);
                    long covered = Math.min(excess, m.available);
                    long expectedWrittenOff = excess - covered;
                    long writtenOff = balances.settle(slot, held, cost);
                    assertThat(writtenOff).as(where + ": settle(" + held + ", " + cost + ") with " + m.available + " available")
                            .isEqualTo(expectedWrittenOff);
                    m.available += held - cost + expectedWrittenOff;
                    m.reserved -= held;
                    m.debited += cost - expectedWrittenOff;
                    m.writtenOff += expectedWrittenOff;
                    settlesAbove += cost > held ? 1 : 0;
                    writeOffs += expectedWrittenOff > 0 ? 1 : 0;
                    did = "settle " + held + " cost " + cost;
                } else {
                    long held = m.open.remove(random.nextInt(m.open.size()));
                    balances.release(slot, held);
                    m.available += held;
                    m.reserved -= held;
                    did = "release " + held;
                }
                for (int s = 0; s < ACCOUNTS; s++) {
                    Model x = models[s];
                    String at = where + " after " + did + " on slot " + slot + ", checking slot " + s;
                    assertThat(balances.availableMicros(s)).as(at + ": available").isEqualTo(x.available).isNotNegative();
                    assertThat(balances.reservedMicros(s)).as(at + ": reserved").isEqualTo(x.reserved)
                            .isEqualTo(x.open.stream().mapToLong(Long::longValue).sum());
                    assertThat(balances.creditedMicros(s)).as(at + ": credited").isEqualTo(x.credited);
                    assertThat(balances.debitedMicros(s)).as(at + ": debited").isEqualTo(x.debited);
                    assertThat(balances.writtenOffMicros(s)).as(at + ": writtenOff").isEqualTo(x.writtenOff);
                    assertThat(balances.creditedMicros(s) - balances.debitedMicros(s))
                            .as(at + ": conservation credited - debited == available + reserved")
                            .isEqualTo(balances.availableMicros(s) + balances.reservedMicros(s));
                    assertThat(balances.conservationErrorMicros(s)).as(at).isZero();
                }
            }
        }
        // The histories must actually exercise the interesting branches, or the checks above prove little.
        assertThat(settlesAbove).isGreaterThan(HISTORIES * 10);
        assertThat(writeOffs).isGreaterThan(HISTORIES);
    }

    @Test
    void handWorkedSettlements() {
        Balances balances = new Balances(1);
        balances.credit(0, 1_000);
        assertThat(balances.reserveUpTo(0, 100, 400)).isEqualTo(400);
        assertThat(balances.availableMicros(0)).isEqualTo(600);
        assertThat(balances.reservedMicros(0)).isEqualTo(400);

        // Below the reservation: the rest returns.
        assertThat(balances.settle(0, 400, 150)).isZero();
        assertThat(balances.availableMicros(0)).isEqualTo(850);
        assertThat(balances.reservedMicros(0)).isZero();
        assertThat(balances.debitedMicros(0)).isEqualTo(150);

        // Above the reservation but covered by what is available.
        assertThat(balances.reserveUpTo(0, 0, 50)).isEqualTo(50);
        assertThat(balances.settle(0, 50, 250)).isZero();
        assertThat(balances.availableMicros(0)).isEqualTo(600);
        assertThat(balances.debitedMicros(0)).isEqualTo(400);

        // Above the reservation and beyond the balance: available drains to zero, the rest is written off.
        assertThat(balances.reserveUpTo(0, 0, 100)).isEqualTo(100);
        assertThat(balances.settle(0, 100, 1_000)).isEqualTo(400);
        assertThat(balances.availableMicros(0)).isZero();
        assertThat(balances.debitedMicros(0)).isEqualTo(1_000);
        assertThat(balances.writtenOffMicros(0)).isEqualTo(400);
        assertThat(balances.conservationErrorMicros(0)).isZero();

        // Nothing left: even a zero minimum is met, with nothing.
        assertThat(balances.reserveUpTo(0, 1, 10)).isEqualTo(-1);
        assertThat(balances.reserveUpTo(0, 0, 10)).isZero();
        balances.credit(0, 50);
        balances.release(0, 0);
        assertThat(balances.availableMicros(0)).isEqualTo(50);
        assertThat(balances.creditedMicros(0)).isEqualTo(1_050);
        assertThat(balances.conservationErrorMicros(0)).isZero();
    }

    @Test
    void refusalChangesNothing() {
        Balances balances = new Balances(2);
        balances.credit(1, 99);
        assertThat(balances.reserveUpTo(1, 100, 1_000)).isEqualTo(-1);
        assertThat(balances.availableMicros(1)).isEqualTo(99);
        assertThat(balances.reservedMicros(1)).isZero();
        assertThat(balances.availableMicros(0)).isZero();
    }

    @Test
    void argumentsAreChecked() {
        Balances balances = new Balances(2);
        assertThatThrownBy(() -> new Balances(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> balances.credit(0, -1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> balances.reserveUpTo(0, -1, 5)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> balances.reserveUpTo(0, 5, 4)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> balances.settle(0, -1, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> balances.settle(0, 0, -1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> balances.credit(2, 1)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> balances.availableMicros(-1)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThat(balances.capacity()).isEqualTo(2);
        for (int slot = 0; slot < 2; slot++) {
            assertThat(balances.availableMicros(slot) + balances.reservedMicros(slot) + balances.creditedMicros(slot)
                    + balances.debitedMicros(slot) + balances.writtenOffMicros(slot)).isZero();
        }
    }
}
