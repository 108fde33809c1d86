// kubectl-packetcapture is the kubectl plugin for PacketCaptures: fetch
// copies every file of a capture out of the cluster and verifies it, clean
// ends its retention and deletes its files, list shows the captures. This
// file holds the flags only; the logic is package retrieve.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/function-packet-capture/function-packet-capture/retrieve"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot(os.Stdout, os.Stderr).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func newRoot(out, errOut io.Writer) *cobra.Command {
	kubeFlags := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:           "kubectl-packetcapture",
		Short:         "Fetch, verify, merge and clean the files of PacketCaptures",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	kubeFlags.AddFlags(root.PersistentFlags())
	root.AddCommand(fetchCmd(kubeFlags, out, errOut), cleanCmd(kubeFlags, out), listCmd(kubeFlags, out))
	return root
}

// connect builds the clients and reads the namespace from the flags and
// kubeconfig, as kubectl does.
func connect(f *genericclioptions.ConfigFlags) (*retrieve.Client, string, error) {
	cfg, err := f.ToRESTConfig()
	if err != nil {
		return nil, "", err
	}
	ns, _, err := f.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, "", err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, "", err
	}
	return &retrieve.Client{Kube: kube, Dynamic: dyn, Exec: retrieve.RemoteExecer{Config: cfg, Client: kube}}, ns, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func fetchCmd(kubeFlags *genericclioptions.ConfigFlags, out, errOut io.Writer) *cobra.Command {
	var dir string
	var merge bool
	var helperTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "fetch NAME",
		Short: "Copy every file of a PacketCapture into DIR/<capture Pod>/, verified against what the capture reported",
		Long: `Copy every file of a PacketCapture, whatever its output: out of running capture
Pods (Pod output), or through a short-lived helper Pod on each node (HostPath)
or on the claim (PersistentVolumeClaim), deleted afterwards. Every file's size,
and SHA-256 where the capture recorded it, is checked; a mismatch fails.
Once a finished capture's Jobs are released (and their Pods deleted), the
PacketCapture's status says where each captured Pod's files are: they land in
DIR/<captured Pod>/, checked against the result the status keeps. A Pod
output's files went with its capture Pods: each such Pod is named, with why.
--merge also writes DIR/NAME.pcapng: one interface per captured Pod, packets in
time order across Pods.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := connect(kubeFlags)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			cp, err := c.Find(ctx, ns, args[0])
			if err != nil {
				return err
			}
			if len(cp.Sources) == 0 {
				return fmt.Errorf("PacketCapture %s/%s (phase %q) has no capture Jobs or Pods, and its status.ledger names no captured Pod (yet)", ns, args[0], cp.Phase)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			progress := &retrieve.Progress{Out: errOut, Terminal: isTerminal(errOut)}
			results, err := c.Fetch(ctx, cp, retrieve.FetchOptions{Dir: dir, HelperTimeout: helperTimeout, Progress: progress})
			if err != nil {
				return err
			}
			if err := retrieve.WriteTable(out, results); err != nil {
				return err
			}
			problems := retrieve.Problems(results)
			if merge {
				inputs := retrieve.MergeInputs(cp, results, dir)
				path := filepath.Join(dir, args[0]+".pcapng")
				n, err := retrieve.MergeFile(path, inputs, "kubectl-packetcapture")
				if err != nil {
					problems = append(problems, "merge: "+err.Error())
				} else if _, err := retrieve.CheckMerged(path, inputs); err != nil {
					problems = append(problems, "merge: read back: "+err.Error())
				} else {
					fmt.Fprintf(out, "merged %d packets of %d Pods into %s\n", n, len(inputs), path)
				}
			}
			if len(problems) > 0 {
				return errors.New("the fetch is incomplete:\n  " + strings.Join(problems, "\n  "))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&dir, "output-dir", "o", "pcap", "directory the files go to, as DIR/<capture Pod>/<file> (DIR/<captured Pod>/<file> once the Jobs are released)")
	cmd.Flags().BoolVar(&merge, "merge", false, "also write DIR/NAME.pcapng with every Pod's packets in time order, one interface per Pod")
	cmd.Flags().DurationVar(&helperTimeout, "helper-timeout", 2*time.Minute, "how long to wait for a helper Pod to start")
	return cmd
}

func cleanCmd(kubeFlags *genericclioptions.ConfigFlags, out io.Writer) *cobra.Command {
	var helperTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "clean NAME",
		Short: "End the retention window of Pod outputs and delete the capture's files from node directories and claims",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := connect(kubeFlags)
			if err != nil {
				return err
			}
			cp, err := c.Find(cmd.Context(), ns, args[0])
			if err != nil {
				return err
			}
			lines, err := c.Clean(cmd.Context(), cp, helperTimeout)
			for _, l := range lines {
				fmt.Fprintln(out, l)
			}
			return err
		},
	}
	cmd.Flags().DurationVar(&helperTimeout, "helper-timeout", 2*time.Minute, "how long to wait for a helper Pod to start")
	return cmd
}

func listCmd(kubeFlags *genericclioptions.ConfigFlags, out io.Writer) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List PacketCaptures with their phase and counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := connect(kubeFlags)
			if err != nil {
				return err
			}
			if all {
				ns = ""
			}
			captures, err := c.List(cmd.Context(), ns)
			if err != nil {
				return err
			}
			if len(captures) == 0 {
				if all {
					fmt.Fprintln(out, "No PacketCaptures found.")
				} else {
					fmt.Fprintf(out, "No PacketCaptures found in namespace %s.\n", ns)
				}
				return nil
			}
			return retrieve.WriteList(out, captures, all)
		},
	}
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list the captures of every namespace")
	return cmd
}
