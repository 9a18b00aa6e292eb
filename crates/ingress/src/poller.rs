//! The Tencent `PullEvents` / `ConfirmEvents` poller.
