/// The VF's mailbox as the model sees it: REQ and ACK raised by the VF, PF replies and
/// PF-initiated messages written back with PFACK/PFSTS (82599/X550 VFMAILBOX and 82576
/// V2PMAILBOX: same bits, same message format; the PF/VF mailbox of 82599 datasheet §7.10 and
/// 82576 datasheet §7.10; ixgbevf.md §4, igbvf.md §4).
extension SimulatedVF {
    func pollMailbox(now: UInt64) -> Bool {
        let m = registers.read(map.mailbox)
        var work = false
        if m & MailboxBits.req != 0 {
            registers.clearBits(map.mailbox, MailboxBits.req)
            work = true
            if let type = silentFrom, registers.read(map.mailboxWord(0)) & PFMailboxMessage.typeMask == type { silent = true }
            if !silent { answerRequest(now: now) }
        }
        if m & MailboxBits.ack != 0 {
            registers.clearBits(map.mailbox, MailboxBits.ack)
            work = true
            if !silent {
                let reply = shared.withLock { s in s.responder.respondToAck(view: s.view, now: now) }
                if let reply { sendToVF(reply) }
            }
        }
        // A PF-initiated message waits while the VF holds the buffer, has a request pending or
        // has not read the PF's last message (PFSTS still set: the VF's read clears it).
        if !silent, !pendingPFMessages.isEmpty,
           registers.read(map.mailbox) & (MailboxBits.pfsts | MailboxBits.vfu | MailboxBits.req) == 0 {
            var words = pendingPFMessages.removeFirst()
            if words[0] == PFMailboxMessage.pfControl, shared.withLock({ $0.view.clearToSend }) { words[0] |= PFMailboxMessage.cts }
            sendToVF(words)
            work = true
        }
        return work
    }

    private func answerRequest(now: UInt64) {
        let request = (0..<MailboxBits.memoryWords).map { registers.read(map.mailboxWord($0)) }
        let nackedTypes = nacked
        let reply = shared.withLock { s -> [UInt32]? in
            let r = s.responder.respond(to: request, view: &s.view, settings: s.settings, nacked: nackedTypes, now: now)
            s.mailboxLog.append(MailboxExchange(request: request, reply: r ?? []))
            if s.mailboxLog.count > 1024 { s.mailboxLog.removeFirst(s.mailboxLog.count - 1024) }
            return r
        }
        if let reply {
            for (i, w) in reply.enumerated() { registers.write(map.mailboxWord(i), w) }
            registers.setBits(map.mailbox, MailboxBits.pfack | MailboxBits.pfsts)
        } else {
            registers.setBits(map.mailbox, MailboxBits.pfack)
        }
        raiseMailboxCause()
        refreshFilter()
        refreshPFRSS()
    }

    /// A PF-initiated message: words into the mailbox memory, PFSTS raised.
    private func sendToVF(_ words: [UInt32]) {
        for (i, w) in words.enumerated() { registers.write(map.mailboxWord(i), w) }
        registers.setBits(map.mailbox, MailboxBits.pfsts)
        raiseMailboxCause()
    }
}
