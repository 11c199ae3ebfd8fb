/**
 * An SFTP drop (`c360 stack up --sftp`): Debian's OpenSSH server on a loopback port with one
 * SFTP-only user, key authentication, chrooted so that the landing zone is all it sees — what a
 * vendor uploads lands in the folder `c360 watch` takes files from. Runs as root (sshd chroots and
 * switches user); OpenSSH is installed with apt-get when missing.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PrerequisiteError } from '../../src/contracts/errors.js';
import type { StackPart } from './part.js';
import type { StackPaths } from './paths.js';
import { LOOPBACK, SFTP_PORT, SFTP_USER } from './versions.js';

const SSHD = '/usr/sbin/sshd';
const AUTHORIZED_KEYS = '/etc/ssh/c360-stack-authorized-keys';
/** The sources' folders made ready for uploads (the bundled topology's). */
const SOURCES = ['crm', 'web', 'marketing', 'commerce', 'support', 'enrichment'];

/** Where the SFTP drop keeps its configuration, keys and the chroot whose `landing/` is the landing zone. */
export function sftpPaths(paths: StackPaths) {
  const dir = path.join(paths.state, 'sftp');
  const chroot = path.join(dir, 'chroot');
  return { dir, chroot, landing: path.join(chroot, 'landing'), clientKey: path.join(dir, 'client_key'), config: path.join(dir, 'sshd_config') };
}

function run(command: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

function requireRootAndSshd(): void {
  if (process.getuid?.() !== 0) throw new PrerequisiteError('`stack up --sftp` runs sshd, which chroots and switches user: run it as root.');
  if (fs.existsSync(SSHD)) return;
  const apt = spawnSync('bash', ['-c', 'apt-get install -y -qq openssh-server || (apt-get update -qq && apt-get install -y -qq openssh-server)'], {
    stdio: 'ignore',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (apt.status !== 0 || !fs.existsSync(SSHD))
    throw new PrerequisiteError(`${SSHD} was not found and apt-get could not install it: install Debian's openssh-server.`);
}

/** A TCP connection that greets with the SSH banner. */
function answers(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(SFTP_PORT, LOOPBACK);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('data', (d) => done(d.toString().startsWith('SSH-2.0-')));
    socket.once('error', () => done(false));
  });
}

export const sftpPart: StackPart = {
  name: 'sftp',
  address: `sftp://${SFTP_USER}@${LOOPBACK}:${SFTP_PORT}`,
  readyTimeoutMs: 20_000,
  answers,
  prepare(paths: StackPaths) {
    requireRootAndSshd();
    const p = sftpPaths(paths);
    // ChrootDirectory: every component root-owned and writable by root alone; inside it, the user's landing folder.
    fs.mkdirSync(p.chroot, { recursive: true, mode: 0o755 });
    for (const d of [p.dir, p.chroot]) fs.chmodSync(d, 0o755);
    if (!run('id', ['-u', SFTP_USER]).ok) {
      const made = run('useradd', ['--system', '--no-create-home', '--home-dir', '/landing', '--shell', '/usr/sbin/nologin', SFTP_USER]);
      if (!made.ok) throw new PrerequisiteError(`could not create the SFTP user ${SFTP_USER}: ${made.out}.`);
    }
    // No password, yet not locked ("!"): without PAM, sshd refuses a locked account even its key.
    run('usermod', ['-p', '*', SFTP_USER]);
    for (const source of SOURCES) fs.mkdirSync(path.join(p.landing, source), { recursive: true });
    run('chown', ['-R', `${SFTP_USER}:`, p.landing]);
    fs.chmodSync(p.landing, 0o775);
    const hostKey = path.join(p.dir, 'ssh_host_ed25519_key');
    if (!fs.existsSync(hostKey)) run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    // The vendor's key: its public half is the user's only way in.
    if (!fs.existsSync(p.clientKey)) run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'c360 stack sftp client', '-f', p.clientKey]);
    // sshd reads authorized keys as the user, who cannot pass the stack's home (/root, 0700): they live under /etc/ssh.
    const keys = AUTHORIZED_KEYS;
    fs.mkdirSync(keys, { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(keys, SFTP_USER), fs.readFileSync(`${p.clientKey}.pub`), { mode: 0o644 });
    // sshd's privilege separation directory (Debian's service unit makes it; there is no service here).
    fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    fs.writeFileSync(
      p.config,
      [
        `Port ${SFTP_PORT}`,
        `ListenAddress ${LOOPBACK}`,
        `HostKey ${hostKey}`,
        `PidFile ${path.join(p.dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${keys}/%u`,
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        'UsePAM no',
        `AllowUsers ${SFTP_USER}`,
        'Subsystem sftp internal-sftp',
        `Match User ${SFTP_USER}`,
        `  ChrootDirectory ${p.chroot}`,
        '  ForceCommand internal-sftp -d /landing -u 0002',
        '  AllowTcpForwarding no',
        '  X11Forwarding no',
        '  PermitTTY no',
        '',
      ].join('\n'),
    );
    const check = run(SSHD, ['-t', '-f', p.config]);
    if (!check.ok) throw new PrerequisiteError(`sshd refuses the stack's SFTP configuration ${p.config}: ${check.out}.`);
    return { name: 'sftp', command: SSHD, args: ['-D', '-e', '-f', p.config], cwd: p.dir, marker: p.config };
  },
};
