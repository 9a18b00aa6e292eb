//! A fake Tencent VOD API (`PullEvents` / `ConfirmEvents`).
