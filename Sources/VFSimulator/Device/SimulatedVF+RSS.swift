/// The RSS configuration the receive path uses: X550 from its own VFMRQC/VFRSSRK/VFRETA
/// registers (X550 datasheet, VF RSS registers; ixgbevf.md §3.8); 82599 from the PF's key and
/// table, for the queues the VF's PSRTYPE asks for (82599 datasheet §7.1.2.8).
struct RSSConfig {
    var enabled = false
    var fields: UInt32 = 0
    /// Redirection table entries (64 on X550, 128 on 82599) and the queues they may select.
    let reta: UnsafeMutablePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: RegisterMap.pfRETAEntries)
        p.initialize(repeating: 0, count: RegisterMap.pfRETAEntries)
        return p
    }()
    var retaSize = RegisterMap.x550RETAEntries
    var queues = 1
    /// The key words last read from the registers (X550).
    var keyWords = [UInt32](repeating: 0, count: RegisterMap.rssKeyRegisters)
}

extension SimulatedVF {
    /// 82599: the PF's key and table (after settings change).
    func refreshPFRSS() {
        guard family == .ixgbe82599 else { return }
        rss.rebuild(key: settings.pfRSSKey)
        rssConfig.fields = settings.pfRSSFields
        rssConfig.retaSize = RegisterMap.pfRETAEntries
        for i in 0..<RegisterMap.pfRETAEntries { rssConfig.reta[i] = settings.pfRETA[i % max(1, settings.pfRETA.count)] }
    }

    /// Reads the RSS registers (X550) or PSRTYPE (82599) at every control pass.
    func refreshRSS() {
        switch family {
        case .ixgbeX550:
            typealias R = RegisterMap
            let mrqc = registers.read(map.mrqc)
            rssConfig.enabled = mrqc & R.mrqcRSSEnable != 0
            rssConfig.fields = mrqc & R.mrqcFieldMask
            rssConfig.retaSize = R.x550RETAEntries
            rssConfig.queues = settings.queuesPerPool
            var changed = false
            for i in 0..<R.rssKeyRegisters {
                let w = registers.read(map.rssKeyWord(i))
                if rssConfig.keyWords[i] != w { rssConfig.keyWords[i] = w; changed = true }
            }
            if changed {
                // Key byte i is byte i % 4 (from the low end) of register i / 4.
                var key = [UInt8](repeating: 0, count: RSSHash.keyLength)
                for i in 0..<RSSHash.keyLength { key[i] = UInt8(truncatingIfNeeded: rssConfig.keyWords[i / 4] >> (8 * UInt32(i % 4))) }
                rss.rebuild(key: key)
            }
            let perRegister = R.retaEntriesPerRegister
            for i in 0..<R.x550RETARegisters {
                let w = registers.read(map.retaWord(i))
                for j in 0..<perRegister { rssConfig.reta[perRegister * i + j] = UInt8(truncatingIfNeeded: w >> (8 * UInt32(j))) }
            }
        case .ixgbe82599:
            let rqpl = Int((registers.read(map.psrtype) >> RegisterMap.psrtypeRQPLShift) & RegisterMap.psrtypeRQPLMask)
            rssConfig.enabled = rqpl > 0
            rssConfig.queues = min(1 << rqpl, settings.queuesPerPool)
        case .igb82576:
            rssConfig.enabled = false
        }
    }
}
