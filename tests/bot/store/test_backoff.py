from bot.store.backoff import Backoff


def test_pauses_double_up_to_the_cap_and_start_over_after_a_success():
    backoff = Backoff(first_s=1.0, max_s=5.0)
    assert [backoff.failed() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.succeeded()
    assert backoff.failed() == 1.0
