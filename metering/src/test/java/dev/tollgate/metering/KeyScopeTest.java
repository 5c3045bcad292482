package dev.tollgate.metering;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

class KeyScopeTest {

    @Test
    void modelsAreExactNamesOrPrefixPatterns() throws Exception {
        KeyScope scope = KeyScope.of("staging", "interactive", List.of("gpt-4o*", "claude-haiku-4-5"), KeyScope.NO_EXPIRY, List.of());
        assertThat(scope.allowsModel("gpt-4o")).isTrue();
        assertThat(scope.allowsModel("gpt-4o-mini")).isTrue();
        assertThat(scope.allowsModel("claude-haiku-4-5")).isTrue();
        assertThat(scope.allowsModel("claude-haiku-4-5-20251001")).as("an exact name is not a prefix").isFalse();
        assertThat(scope.allowsModel("gpt-4")).isFalse();
        assertThat(scope.allowsModel("xgpt-4o")).isFalse();
        assertThat(KeyScope.UNRESTRICTED.allowsModel("anything")).isTrue();
        assertThat(KeyScope.of("", "", List.of("*"), KeyScope.NO_EXPIRY, List.of()).allowsModel("anything")).isTrue();
    }

    @Test
    void networksMatchByPrefixForBothFamilies() throws Exception {
        KeyScope scope = KeyScope.of("", "", List.of(), KeyScope.NO_EXPIRY, List.of("10.1.2.3/8", "192.168.7.0/23", "2001:db8::/32", "127.0.0.1"));
        assertThat(scope.networks()).containsExactly("10.0.0.0/8", "192.168.6.0/23", "2001:db8:0:0:0:0:0:0/32", "127.0.0.1/32");
        assertThat(scope.allowsAddress(InetAddress.getByName("10.200.0.1"))).isTrue();
        assertThat(scope.allowsAddress(InetAddress.getByName("11.0.0.1"))).isFalse();
        assertThat(scope.allowsAddress(InetAddress.getByName("192.168.7.255"))).isTrue();
        assertThat(scope.allowsAddress(InetAddress.getByName("192.168.8.0"))).isFalse();
        assertThat(scope.allowsAddress(InetAddress.getByName("192.168.5.255"))).isFalse();
        assertThat(scope.allowsAddress(InetAddress.getByName("2001:db8:ffff::1"))).isTrue();
        assertThat(scope.allowsAddress(InetAddress.getByName("2001:db9::1"))).isFalse();
        assertThat(scope.allowsAddress(InetAddress.getByName("127.0.0.1"))).isTrue();
        assertThat(scope.allowsAddress(InetAddress.getByName("127.0.0.2"))).isFalse();
        assertThat(scope.allowsAddress(InetAddress.getByAddress(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xFF, (byte) 0xFF, 10, 9, 8, 7})))
                .as("an IPv4-mapped IPv6 address matches the IPv4 block").isTrue();
        assertThat(scope.allowsAddress(null)).isFalse();
        assertThat(KeyScope.of("", "", List.of(), KeyScope.NO_EXPIRY, List.of("0.0.0.0/0")).allowsAddress(InetAddress.getByName("8.8.8.8"))).isTrue();
        assertThat(KeyScope.UNRESTRICTED.allowsAddress(null)).isTrue();
    }

    @Test
    void expiryIsExclusiveOfTheInstant() {
        KeyScope scope = KeyScope.of("", "", List.of(), 1_000, List.of());
        assertThat(scope.expiredAt(999)).isFalse();
        assertThat(scope.expiredAt(1_000)).isTrue();
        assertThat(KeyScope.UNRESTRICTED.expiredAt(Long.MAX_VALUE - 1)).isFalse();
    }

    @Test
    void badScopesAreRefusedNamingTheField() {
        assertThatThrownBy(() -> KeyScope.of("Prod", "", List.of(), -1, List.of())).hasMessageStartingWith("env:");
        assertThatThrownBy(() -> KeyScope.of("", "a b", List.of(), -1, List.of())).hasMessageStartingWith("lane:");
        assertThatThrownBy(() -> KeyScope.of("", "", List.of("gpt*4"), -1, List.of())).hasMessageStartingWith("models:");
        assertThatThrownBy(() -> KeyScope.of("", "", List.of(""), -1, List.of())).hasMessageStartingWith("models:");
        assertThatThrownBy(() -> KeyScope.of("", "", java.util.Collections.nCopies(17, "m"), -1, List.of())).hasMessageStartingWith("models:");
        assertThatThrownBy(() -> KeyScope.of("", "", List.of(), -2, List.of())).hasMessageStartingWith("expires_at:");
        for (String bad : new String[] {"example.com/8", "10.0.0.0/33", "10.0.0.0/x", "/8", "2001:db8::/129", "10.0.0.300/8"}) {
            assertThatThrownBy(() -> KeyScope.of("", "", List.of(), -1, List.of(bad))).as(bad).hasMessageStartingWith("networks:");
        }
    }

    @Test
    void anEmptyScopeIsTheUnrestrictedOne() {
        assertThat(KeyScope.of("", "", List.of(), KeyScope.NO_EXPIRY, List.of())).isSameAs(KeyScope.UNRESTRICTED);
        assertThat(KeyScope.of("batch", "", List.of(), 5, List.of()))
                .isEqualTo(KeyScope.of("batch", "", List.of(), 5, List.of())).isNotEqualTo(KeyScope.UNRESTRICTED);
    }
}
