// Module for the pause container of the local Kubernetes node: no dependencies, built static.
module github.com/jobchannel/jobchannel/e2e/images/pause

go 1.25.0
