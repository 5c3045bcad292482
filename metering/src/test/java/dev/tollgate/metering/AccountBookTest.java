package dev.tollgate.metering;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class AccountBookTest {

    @Test
    void opensAccountsIntoSlotsInOrder() {
        AccountBook book = new AccountBook(3);
        assertThat(book.accountIds()).as("an empty book lists no accounts").isEmpty();
        assertThat(book.open("acme")).isZero();
        assertThat(book.open("globex")).isEqualTo(1);
        assertThat(book.slotOf("globex")).isEqualTo(1);
        assertThat(book.slotOf("nobody")).isEqualTo(-1);
        assertThat(book.accountIds()).containsExactly("acme", "globex");
        assertThat(book.balances().capacity()).isEqualTo(3);
        assertThatThrownBy(() -> book.open("acme")).isInstanceOf(IllegalArgumentException.class);
        book.open("initech");
        assertThat(book.accountIds()).containsExactly("acme", "globex", "initech");
        assertThatThrownBy(() -> book.open("hooli")).isInstanceOf(IllegalStateException.class).hasMessageContaining("maxAccounts");
    }

    @Test
    void snapshotReadsTheCounters() {
        AccountBook book = new AccountBook(2);
        int slot = book.open("acme");
        book.balances().credit(slot, 1_000);
        Reservation reservation = Reservation.tryReserve(book.balances(), slot, 0, 300);
        assertThat(book.snapshot("acme")).isEqualTo(new AccountBook.AccountSnapshot("acme", 700, 300, 1_000, 0, 0));
        reservation.settle(1_200);
        assertThat(book.snapshot("acme")).isEqualTo(new AccountBook.AccountSnapshot("acme", 0, 0, 1_000, 1_000, 200));
        assertThat(book.snapshot("nobody")).isNull();
    }
}
