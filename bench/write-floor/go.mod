module jobchannel.io/bench/write-floor

go 1.26
